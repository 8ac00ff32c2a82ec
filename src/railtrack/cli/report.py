"""``railtrack report ...``: adoption, licenses, clauses (JSON, CSV, charts, HTML).

Each report command shares the options in :func:`report_options`; to add a report, write
a library function in ``railtrack.reports`` and register a command on ``report_app``
(see ``register``), e.g. ``@report_app.command("drift")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import typer

from ..errors import UsageError
from . import _common

report_app = typer.Typer(
    name="report",
    help="Reports on the store: adoption of behavioral-use licenses, top licenses, clause convergence.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

SinceOption = typer.Option(None, "--since", help="First creation date included (YYYY-MM-DD or YYYY-MM).")
UntilOption = typer.Option(None, "--until", help="Last creation date included (YYYY-MM-DD or YYYY-MM).")
JsonOption = typer.Option(False, "--json", help="Print the report as JSON on stdout.")
CsvOption = typer.Option(False, "--csv", help="Print the report's main table as CSV on stdout.")
PlotOption = typer.Option(None, "--plot", help="Write the chart to PATH (.svg or .png).")
HtmlOption = typer.Option(None, "--html", help="Write a self-contained HTML report to PATH.")


def run_report(name: str, compute: Callable[[Any], dict[str, Any]], db: Optional[Path], as_json: bool, as_csv: bool,
               plot: Optional[Path], html: Optional[Path], show: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Open the store read-only, compute, then print/write the requested forms."""
    from .._io import atomic_write
    from ..reports.charts import chart, format_of
    from ..reports.common import EMPTY_HINT, NoDataError
    from ..reports.render import html_report, to_csv
    from ..config import resolve_db_path
    from ..store import connect

    if as_json and as_csv:
        raise UsageError("choose one of --json and --csv")
    fmt = format_of(plot) if plot is not None else None
    if html is not None and html.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--html {html}: the file name must end in .html")
    if not resolve_db_path(db).exists():
        raise NoDataError(EMPTY_HINT)
    con = connect(db, read_only=True)
    con.execute("SET enable_progress_bar = false")  # nothing but the report on stdout
    try:
        data = compute(con)
        chart_bytes = chart(name, data, fmt) if fmt else None
        page = html_report(con, data.get("since"), data.get("until"), reports=(name,), data={name: data}) if html else None
    finally:
        con.close()
    if chart_bytes is not None:
        atomic_write(plot, chart_bytes, mode=_file_mode())
        _common.stderr.print(f"chart written to {plot}", markup=False)
    if page is not None:
        atomic_write(html, page, mode=_file_mode())
        _common.stderr.print(f"HTML report written to {html}", markup=False)
    if as_json:
        _common.print_json(data)
    elif as_csv:
        import sys

        sys.stdout.write(to_csv(name, data))
    else:
        show(data)
    return data


def _file_mode() -> int:
    """Permissions of a new output file under the current umask (mkstemp alone gives 0600)."""
    import os

    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _show_adoption(d: dict[str, Any]) -> None:
    from rich.table import Table

    out = _common.stdout
    out.print(f"{d['total_models']:,} models; {d['behavioral_use']:,} under a behavioral-use license ({_pct(d['share'])}); "
              f"{_pct(d['downloads_share'])} of downloads", markup=False)
    t = Table("family", "models", "behavioral use", "downloads", "share", title="by family")
    for fam, r in d["families"].items():
        t.add_row(fam, str(r["models"]), str(r["behavioral_use"]), str(r["downloads"]), _pct(r["share"]))
    out.print(t)
    t = Table("month", "models", "behavioral use", "share", "downloads share", title="by month of creation")
    for m in d["by_month"]:
        t.add_row(m["month"], str(m["models"]), str(m["behavioral_use"]), _pct(m["share"]), _pct(m["downloads_share"]))
    out.print(t)
    _common.stderr.print(d["caveat"], markup=False)


def _show_licenses(d: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table("license", "family", "behavioral use", "models", "share", "downloads",
              title=f"top licenses of {d['total_models']:,} models ({d['distinct_licenses']} distinct)")
    for r in d["top"]:
        t.add_row(r["license"], r["family"], "yes" if r["behavioral_use"] else "", str(r["models"]), _pct(r["share"]),
                  str(r["downloads"]))
    _common.stdout.print(t)
    _common.stderr.print(d["caveat"], markup=False)


def _show_clauses(d: dict[str, Any]) -> None:
    out = _common.stdout
    for part, label in (("generated", "generated licenses"), ("hub", "Hub models under behavioral-use licenses")):
        p = d[part]
        mj = "n/a" if p["mean_jaccard"] is None else f"{p['mean_jaccard']:.3f}"
        out.print(f"{label}: {p['count']} ({p['distinct_configurations']} configurations); most common configuration "
                  f"{_pct(p['top_configuration_share'])}; mean pairwise Jaccard {mj}; trend {p['convergence']['trend']}",
                  markup=False)
        for dom, n in list(p["domains"].items())[:13]:
            out.print(f"    {dom:<26} {n}", markup=False)


def register(app: typer.Typer) -> None:
    @report_app.command("adoption")
    def adoption_cmd(since: Optional[str] = SinceOption, until: Optional[str] = UntilOption, as_json: bool = JsonOption,
                     as_csv: bool = CsvOption, plot: Optional[Path] = PlotOption, html: Optional[Path] = HtmlOption,
                     db: Optional[Path] = _common.DbOption) -> None:
        """Models per month of creation and how many are under a behavioral-use license (by count and downloads)."""
        from ..reports import adoption

        run_report("adoption", lambda con: adoption(con, since, until), db, as_json, as_csv, plot, html, _show_adoption)

    @report_app.command("licenses")
    def licenses_cmd(since: Optional[str] = SinceOption, until: Optional[str] = UntilOption,
                     top: int = typer.Option(15, "--top", help="How many licenses to list."),
                     as_json: bool = JsonOption, as_csv: bool = CsvOption, plot: Optional[Path] = PlotOption,
                     html: Optional[Path] = HtmlOption, db: Optional[Path] = _common.DbOption) -> None:
        """Top declared licenses overall and per month."""
        from ..reports import licenses_report

        run_report("licenses", lambda con: licenses_report(con, since, until, top=top), db, as_json, as_csv, plot, html,
                   _show_licenses)

    @report_app.command("clauses")
    def clauses_cmd(since: Optional[str] = SinceOption, until: Optional[str] = UntilOption, as_json: bool = JsonOption,
                    as_csv: bool = CsvOption, plot: Optional[Path] = PlotOption, html: Optional[Path] = HtmlOption,
                    db: Optional[Path] = _common.DbOption) -> None:
        """Restriction domains and clauses chosen, configuration distribution and convergence over time."""
        from ..reports import clauses_report

        run_report("clauses", lambda con: clauses_report(con, since, until), db, as_json, as_csv, plot, html,
                   _show_clauses)

    @report_app.command("drift")
    def drift_cmd(top: int = typer.Option(20, "--top", min=1, help="How many (parent -> child) transitions to list."),
                  as_json: bool = JsonOption, as_csv: bool = CsvOption,
                  db: Optional[Path] = _common.DbOption) -> None:
        """License drift from base to derivative: mutation rate per relation, top transitions, restriction retention."""
        from ..adherence.drift import drift
        from ..adherence.export import drift_csv, drift_text
        from ..store import connect

        if as_json and as_csv:
            raise UsageError("choose one of --json and --csv")
        con = connect(db, read_only=True)
        con.execute("SET enable_progress_bar = false")  # nothing but the report on stdout
        try:
            data = drift(con, top=top)
        finally:
            con.close()
        if as_json:
            _common.print_json(data)
        elif as_csv:
            import sys

            sys.stdout.write(drift_csv(data))
        else:
            for line in drift_text(data):
                _common.stdout.print(line, markup=False)

    app.add_typer(report_app, name="report")
