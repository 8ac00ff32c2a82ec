"""``railtrack`` console script: assembles the per-noun Typer apps and maps errors to exit codes.

Exit codes (documented in the README): 0 success; 1 findings where a command documents it
(e.g. ``watch run`` with new violations); 2 usage or input errors, reported as one line on
stderr.
"""

from __future__ import annotations

import sys

import typer

from ..errors import RailtrackError
from . import _common

app = typer.Typer(
    name="railtrack",
    help="Write, read, track and enforce behavioral-use AI licenses.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# One sub-app (or command module) per noun. Each module exposes `register(app)`.
_NOUNS: list[str] = [
    "provenance",
    "license",
    "identify",
    "serve",
    "hub",
    "report",
    "tree",
    "audit",
    "watch",
    "watermark",
]


@app.callback()
def _root() -> None:
    """Write, read, track and enforce behavioral-use AI licenses."""


@app.command("version")
def version_cmd() -> None:
    """Print the railtrack version and the store schema version."""
    from .. import __version__
    from ..store.db import SCHEMA_VERSION

    _common.stdout.print(f"railtrack {__version__} (store schema {SCHEMA_VERSION})")


def _register_all() -> None:
    import importlib

    for noun in _NOUNS:
        module = importlib.import_module(f"railtrack.cli.{noun}")
        module.register(app)


_register_all()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI; turn :class:`RailtrackError` into one stderr line and its exit code."""
    try:
        code = app(args=argv, prog_name="railtrack", standalone_mode=False)
        if isinstance(code, int) and code:  # `raise typer.Exit(n)` comes back as a return value here
            return code
    except RailtrackError as exc:
        _common.error_line(exc.message)
        return exc.exit_code
    except typer.Exit as exc:  # raised by commands that choose their exit code
        return int(exc.exit_code or 0)
    except typer.Abort:
        _common.error_line("aborted")
        return 130
    except KeyboardInterrupt:
        _common.error_line("interrupted")
        return 130
    except typer.TyperException as exc:  # usage errors from the argument parser
        from typer._click import exceptions as click_exc

        if isinstance(exc, click_exc.NoArgsIsHelpError):
            sys.stdout.write(exc.ctx.get_help() + "\n") if exc.ctx is not None else None
            return 0
        if isinstance(exc, click_exc.UsageError):
            _common.error_line(exc.format_message())
            return 2
        if isinstance(exc, click_exc.ClickException):
            _common.error_line(exc.format_message())
            return exc.exit_code if exc.exit_code else 2
        raise
    return 0


def run() -> None:  # pragma: no cover - console script wrapper
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
