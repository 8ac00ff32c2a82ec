"""``railtrack identify PATH...``: which license (and version) do these files hold, and what do they forbid."""

from __future__ import annotations

from pathlib import Path
from typing import List

import typer

from ..errors import UsageError
from . import _common


def identify_cmd(
    paths: List[Path] = typer.Argument(..., help="Files or folders (folders: license files, use policies, READMEs, recursively). '-' reads stdin."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list, one object per file, on stdout."),
    no_clauses: bool = typer.Option(False, "--no-clauses", help="Skip clause extraction (faster bulk scans)."),
    declared: str = typer.Option(None, "--declared", help="License the metadata declares (Hub tag, name or SPDX id), to compare with what is found."),
) -> None:
    """Identify AI licenses in files: canonical id and exact version (or 'unknown' with candidates),
    score, margin over the runner-up, matched spans, coverage, the card's declared license, the
    use restrictions found (clause ids). Bad files get a status (binary, empty, not-utf8,
    truncated, unreadable) and never stop the run; exit 2 only for usage errors."""
    from ..identify import identify_text
    from ..identify.api import expand_paths

    if not paths:
        raise UsageError("give at least one PATH")
    results = []
    stdin_paths = [p for p in paths if str(p) == "-"]
    if len(stdin_paths) > 1:
        raise UsageError("'-' (stdin) may be given only once")
    file_paths = [p for p in paths if str(p) != "-"]
    items = expand_paths(file_paths)
    show_progress = len(items) > 20 and _common.stderr.is_terminal
    if stdin_paths:
        import sys

        data = sys.stdin.buffer.read()
        text = data.decode("utf-8", errors="replace")
        ident = identify_text(text, declared=declared, path="-", clauses=not no_clauses)
        if b"\x00" in data[:8192]:
            ident.status, ident.detail = "binary", "binary input on stdin"
        results.append(ident)
    if show_progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("identifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=_common.stderr, transient=True) as prog:
            task = prog.add_task("identify", total=len(items))
            for shown, p in items:
                results.append(_one(shown, p, no_clauses, declared))
                prog.advance(task)
    else:
        for shown, p in items:
            results.append(_one(shown, p, no_clauses, declared))

    if as_json:
        _common.print_json([r.to_dict() for r in results])
        return
    _table(results)


def _one(shown: str, p: Path | None, no_clauses: bool, declared: str | None):
    from ..identify.api import STATUS_EMPTY, Identification, identify_file

    if p is None:
        return Identification(path=shown, status=STATUS_EMPTY, detail="folder holds no license, policy or README file")
    ident = identify_file(p, clauses=not no_clauses)
    if declared and ident.status in ("ok", "not-utf8", "truncated"):
        from ..catalog.registry import load_registry

        e = load_registry().resolve(declared)
        ident.declared = e.id if e else declared.strip().lower()
        ident.declared_raw = [declared]
        if ident.license != "unknown":
            from ..identify.api import _same_license

            ident.mismatch = not _same_license(ident.license, ident.declared)
    return ident


def _table(results) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=False, header_style="bold", pad_edge=False, box=None)
    table.add_column("path", overflow="fold", min_width=20)
    table.add_column("license", overflow="fold", min_width=12)
    for col in ("version", "score", "margin", "cov"):
        table.add_column(col, no_wrap=True)
    table.add_column("declared", overflow="fold")
    table.add_column("clauses", no_wrap=True)
    table.add_column("status", overflow="fold")
    for r in results:
        lic = r.license
        if lic == "unknown" and r.candidates:
            lic = "unknown (" + ", ".join(c.license for c in r.candidates[:3]) + "?)"
        extra = [s.license for s in r.spans[1:] if s.license != "unknown"]
        if extra:
            lic += " + " + ", ".join(extra)
        if r.coverage and not r.complete and r.license != "unknown":
            lic += " (partial)"
        declared = r.declared or ""
        if r.mismatch:
            declared += " (mismatch)"
        n_clauses = len({c.clause_id for c in r.clauses})
        table.add_row(
            Text(str(r.path)), Text(lic), Text(r.version or ""),
            f"{r.score:.2f}" if r.score else "", f"{r.margin:.2f}" if r.score else "",
            f"{r.coverage:.0%}" if r.coverage else "", Text(declared),
            str(n_clauses) if n_clauses else "", Text(r.status + (f": {r.detail}" if r.detail and r.status != "ok" else "")),
        )
    _common.stdout.print(table)


def register(app: typer.Typer) -> None:
    app.command("identify")(identify_cmd)
