"""``railtrack watch ...``: a licensor's watchlist of model families.

``watch run`` exits 1 when it finds new violations (so it can gate a scheduled job), 0 otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import _common

watch_app = typer.Typer(
    name="watch",
    help="Watch model families: report new derivatives, new violations and resolved ones since the last run.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    @watch_app.command("add")
    def add_cmd(
        model: str = typer.Argument(..., help="Model id to watch (must be in the store)."),
        db: Optional[Path] = _common.DbOption,
    ) -> None:
        """Add MODEL to the watchlist."""
        from ..adherence.watch import watch_add
        from ..store import connect

        with connect(db) as con:
            added = watch_add(con, model)
        _common.stdout.print(f"{'watching' if added else 'already watching'} {model}", markup=False)

    @watch_app.command("remove")
    def remove_cmd(
        model: str = typer.Argument(..., help="Model id to stop watching."),
        db: Optional[Path] = _common.DbOption,
    ) -> None:
        """Remove MODEL from the watchlist."""
        from ..adherence.watch import watch_remove
        from ..store import connect

        with connect(db) as con:
            watch_remove(con, model)
        _common.stdout.print(f"stopped watching {model}", markup=False)

    @watch_app.command("list")
    def list_cmd(
        as_json: bool = typer.Option(False, "--json", help="Print the watchlist as JSON."),
        db: Optional[Path] = _common.DbOption,
    ) -> None:
        """List watched models with the derivatives and violations of their last run."""
        from ..adherence.watch import watch_list
        from ..store import connect

        with connect(db) as con:
            rows = watch_list(con)
        if as_json:
            _common.print_json(rows)
            return
        if not rows:
            _common.stderr.print("the watchlist is empty (railtrack watch add MODEL)", markup=False)
        for r in rows:
            last = f"last run {r['last_run']}: {r['derivatives']} derivatives, {r['violations']} violations" \
                if r["last_run"] is not None else "never run"
            _common.stdout.print(f"{r['model']}  (added {r['added_at']}; {last})", markup=False)

    @watch_app.command("run")
    def run_cmd(
        as_json: bool = typer.Option(False, "--json", help="Print the run report as JSON."),
        db: Optional[Path] = _common.DbOption,
    ) -> None:
        """Audit every watched family and report changes since the last run (exit 1 on new violations)."""
        from ..adherence.watch import watch_run
        from ..store import connect

        con = connect(db)
        con.execute("SET enable_progress_bar = false")  # nothing but the report on stdout
        try:
            with _common.stderr.status("auditing watched families...") if not as_json else _nullctx():
                report = watch_run(con)
        finally:
            con.close()
        if as_json:
            _common.print_json(report)
        else:
            out = _common.stdout
            t = report["totals"]
            out.print(f"watch run {report['run_id']} at {report['ran_at']}: {t['watched']} watched, "
                      f"{t['derivatives']} derivatives, {t['new_derivatives']} new, "
                      f"{t['new_violations']} new violations, {t['resolved']} resolved", markup=False)
            for w in report["watched"]:
                since = f"since run {w['previous_run']}" if w["previous_run"] is not None else "first run"
                out.print(f"{w['model']} ({since}): {len(w['new_derivatives'])} new derivatives, "
                          f"{len(w['new_violations'])} new violations, {len(w['resolved'])} resolved", markup=False)
                for v in w["new_violations"][:50]:
                    rules = "; ".join(f"{r['rule']}: {r['reason']}" for r in v["rules"])
                    out.print(f"  NEW VIOLATION {v['id']} (declares {v['declared_license']}): {rules}", markup=False)
                if len(w["new_violations"]) > 50:
                    out.print(f"  ... and {len(w['new_violations']) - 50} more (use --json)", markup=False)
                for r in w["resolved"][:50]:
                    out.print(f"  resolved {r['id']} (now {r['verdict']})", markup=False)
        if report["totals"]["new_violations"]:
            raise typer.Exit(1)

    app.add_typer(watch_app, name="watch")


class _nullctx:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
