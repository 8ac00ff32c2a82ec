"""Every CLI command is documented in the README, and the CLI's error contract holds."""

from __future__ import annotations

import re

import typer

from railtrack.cli.main import app

from conftest import REPO, run_cli


def _command_paths(command, prefix=()):
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        yield prefix
        return
    for name, sub in subcommands.items():
        if getattr(sub, "hidden", False):
            continue
        yield from _command_paths(sub, prefix + (name,))


def test_every_command_is_documented_in_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    paths = [" ".join(p) for p in _command_paths(typer.main.get_command(app)) if p]
    assert len(paths) >= 2
    missing = [p for p in paths if not re.search(r"railtrack " + re.escape(p) + r"\b", readme)]
    assert not missing, f"commands not documented in README.md: {missing}"


def test_unknown_option_is_one_line_and_exit_2():
    proc = run_cli("--no-such-option")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert proc.stderr.startswith("railtrack: error:")


def test_no_arguments_prints_help_and_exit_0():
    proc = run_cli()
    assert proc.returncode == 0
    assert "Usage:" in proc.stdout


def test_version(cli):
    result = cli("version")
    assert result.code == 0
    assert result.out.startswith("railtrack ")
