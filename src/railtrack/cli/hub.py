"""``railtrack hub ...``: import Hub snapshots, sync live, inspect import runs and conflicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional

import typer

from ..errors import UsageError
from . import _common

hub_app = typer.Typer(
    name="hub",
    help="Ingest Hugging Face Hub metadata into the store: snapshots, family trees, cards, live sync.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _progress(description: str, total: Optional[int] = None):
    """A Rich progress bar on stderr (only when stderr is a terminal); returns (context, advance, task)."""
    import contextlib

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if not _common.stderr.is_terminal:
        return contextlib.nullcontext(), (lambda n: None), None

    prog = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=_common.stderr, transient=True)
    task = prog.add_task(description, total=total)

    def advance(n: int) -> None:
        prog.update(task, advance=n)

    return prog, advance, task


def _print_result(res: Any, as_json: bool, what: str) -> None:
    data = res.to_dict()
    if as_json:
        _common.print_json(data)
        return
    out = _common.stdout
    out.print(
        f"{what}: {data['rows_imported']} models imported from {data['rows_read']} rows "
        f"({data['models_new']} new, {data['models_updated']} updated), {data['rows_rejected']} rows rejected, "
        f"{data['edges']} lineage edges, {data['conflicts']} metadata conflicts, {data.get('identified', 0)} identified; "
        f"snapshot {data['snapshot_id']} ({data['snapshot_date']}), run {data['run_id']}, {data['seconds']} s",
        markup=False,
    )
    for reason, count in sorted(data["rejections"].items(), key=lambda kv: (-kv[1], kv[0])):
        _common.stderr.print(f"  {count:>8}  {reason}", markup=False)


def register(app: typer.Typer) -> None:
    @hub_app.command("import")
    def import_cmd(
        paths: Optional[List[Path]] = typer.Argument(None, help="Files or folders: hub-stats/model-cards parquet, "
                                                     "family-tree CSV/JSON, model repos or cards."),
        fmt: str = typer.Option("auto", "--format", help="auto, hub-stats, model-cards, trees or local."),
        snapshot_date: Optional[str] = typer.Option(
            None, "--snapshot-date", help="Date of the snapshot (YYYY-MM-DD). Default: a date in the file name, else today."),
        sample: bool = typer.Option(False, "--sample", help="Import the bundled real sample of four family trees."),
        no_identify: bool = typer.Option(False, "--no-identify", help="Skip license identification of card texts."),
        as_json: bool = typer.Option(False, "--json", help="Print the import result as JSON."),
        db: Optional[Path] = _common.DbOption,
    ) -> None:
        """Import offline snapshots (one transaction per path; rejected rows are counted by reason)."""
        from ..hub import import_paths
        from ..store import connect

        todo = list(paths or [])
        if sample:
            from ..hub.sample import sample_paths

            todo.extend(sample_paths())
            if fmt == "auto":
                fmt = "trees"
        if not todo:
            raise UsageError("give at least one PATH to import (or --sample for the bundled sample)")
        con = connect(db)
        try:
            prog, advance, _ = _progress("importing")
            with prog:
                res = import_paths(con, todo, fmt=fmt, snapshot_date=snapshot_date, progress=advance,
                                   identify=not no_identify)
        finally:
            con.close()
        _print_result(res, as_json, "import")

    @hub_app.command("sync")
    def sync_cmd(
        endpoint: Optional[str] = typer.Option(None, "--endpoint", help="Hub endpoint. Default: $HF_ENDPOINT, else https://huggingface.co."),
        limit: Optional[int] = typer.Option(None, "--limit", help="Stop after this many models (a trial run: the next sync still fetches what it left out)."),
        page_size: int = typer.Option(1000, "--page-size", help="Models per API page (the Hub serves at most 1000)."),
        search: Optional[str] = typer.Option(None, "--search", help="Only models whose id contains this text."),
        author: Optional[str] = typer.Option(None, "--author", help="Only models of this author/organisation."),
        full: bool = typer.Option(False, "--full", help="Ignore the previous high-water mark and list everything."),
        as_json: bool = typer.Option(False, "--json", help="Print the sync result as JSON."),
        db: Optional[Path] = _common.DbOption,
    ) -> None:
        """Incremental live sync from the Hub API (token from $HF_TOKEN); resumable after a crash."""
        from ..hub.live import sync
        from ..store import connect

        if page_size < 1 or page_size > 1000:
            raise UsageError("--page-size must be between 1 and 1000")
        con = connect(db)
        try:
            prog, advance, _ = _progress("syncing")
            with prog:
                res = sync(con, endpoint=endpoint, limit=limit, page_size=page_size, search=search, author=author,
                           full=full, progress=advance)
        finally:
            con.close()
        _print_result(res, as_json, "sync")

    @hub_app.command("runs")
    def runs_cmd(
        last: int = typer.Option(20, "--last", help="How many runs to show."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
        db: Optional[Path] = _common.DbOption,
    ) -> None:
        """List import and sync runs, newest first, with their rejection counts."""
        from ..store import connect

        con = connect(db)
        try:
            rows = con.execute(
                """SELECT r.run_id, r.source, r.status, r.started_at, r.finished_at, r.rows_read, r.rows_imported,
                          r.rows_rejected, r.rejections, r.cursor, r.message, s.snapshot_date
                   FROM import_runs r LEFT JOIN snapshots s USING (snapshot_id)
                   ORDER BY r.run_id DESC LIMIT ?""", [last]).fetchall()
        finally:
            con.close()
        keys = ["run_id", "source", "status", "started_at", "finished_at", "rows_read", "rows_imported",
                "rows_rejected", "rejections", "cursor", "message", "snapshot_date"]
        data = [dict(zip(keys, r)) for r in rows]
        for d in data:
            d["rejections"] = json.loads(d["rejections"]) if d["rejections"] else {}
        if as_json:
            _common.print_json(data)
            return
        if not data:
            _common.stderr.print("no import runs yet: run `railtrack hub import PATH...` or `railtrack hub sync`", markup=False)
            return
        for d in data:
            _common.stdout.print(
                f"{d['run_id']:>4}  {d['status']:<8} {d['source']:<12} {d['snapshot_date'] or '-'}  "
                f"read {d['rows_read'] or 0}, imported {d['rows_imported'] or 0}, rejected {d['rows_rejected'] or 0}"
                + (f"  ({d['message']})" if d["status"] != "done" and d["message"] else ""),
                markup=False)

    @hub_app.command("conflicts")
    def conflicts_cmd(
        field: Optional[str] = typer.Option(None, "--field", help="license, base_model or relation."),
        model: Optional[str] = typer.Option(None, "--model", help="Only this model id."),
        limit: int = typer.Option(50, "--limit", help="At most this many rows."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
        db: Optional[Path] = _common.DbOption,
    ) -> None:
        """Show where tags and card metadata disagree, and what the reconciliation rule kept."""
        from ..store import connect

        if field is not None and field not in ("license", "base_model", "relation"):
            raise UsageError("--field must be license, base_model or relation")
        con = connect(db)
        try:
            rows = con.execute(
                """SELECT model_id, field, tags, card, resolved FROM metadata_conflicts
                   WHERE (? IS NULL OR field = ?) AND (? IS NULL OR model_id = ?)
                   ORDER BY field, model_id LIMIT ?""", [field, field, model, model, limit]).fetchall()
        finally:
            con.close()
        data = [{"model_id": r[0], "field": r[1], "tags": json.loads(r[2]), "card": json.loads(r[3]),
                 "resolved": json.loads(r[4])} for r in rows]
        if as_json:
            _common.print_json(data)
            return
        for d in data:
            _common.stdout.print(f"{d['model_id']}  {d['field']}: tags={d['tags']} card={d['card']} -> {d['resolved']}",
                                 markup=False)

    @hub_app.command("reclassify")
    def reclassify_cmd(db: Optional[Path] = _common.DbOption) -> None:
        """Recompute behavioral_use of every model from the current license registry (and plugins)."""
        from ..hub import reclassify
        from ..store import connect

        with connect(db) as con:
            n = reclassify(con)
        _common.stdout.print(f"{n} models under a behavioral-use license", markup=False)

    app.add_typer(hub_app, name="hub")
