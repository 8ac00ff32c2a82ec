"""Helpers shared by the CLI modules: option types, stderr output, JSON printing."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console

stderr = Console(stderr=True, highlight=False, soft_wrap=True)
stdout = Console(highlight=False, soft_wrap=True)

DbOption = typer.Option(
    None,
    "--db",
    help="Store file (DuckDB). Default: $RAILTRACK_DB, else railtrack.duckdb in the user data directory.",
    envvar="RAILTRACK_DB",
    show_envvar=False,
)


def error_line(message: str) -> None:
    """Print one clear error line on stderr (no markup interpretation)."""
    first = message.strip().splitlines()[0] if message.strip() else "error"
    sys.stderr.write(f"railtrack: error: {first}\n")
    sys.stderr.flush()


def print_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
