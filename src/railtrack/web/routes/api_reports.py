"""Report API: adoption, top licenses, clause convergence; their charts (SVG) and CSV tables.

Everything is computed by :mod:`railtrack.reports` (numbers, CSV tables, matplotlib charts);
this module only caches the results until the store changes.
"""

from __future__ import annotations

import csv
import io
import threading
from collections import OrderedDict
from typing import Any, Callable, Literal

from fastapi import APIRouter, Query, Request, Response

from ..state import WebState, get_state
from ._common import ERRORS, NOT_FOUND

router = APIRouter(prefix="/api/reports", tags=["reports"], responses={**ERRORS, **NOT_FOUND})

Report = Literal["adoption", "licenses", "clauses"]
DATE = r"^\d{4}-\d{2}(-\d{2})?$"
SINCE = Query(None, pattern=DATE, description="Only models / licenses created on or after (YYYY-MM-DD or YYYY-MM)")
UNTIL = Query(None, pattern=DATE, description="Only models / licenses created on or before (YYYY-MM-DD or YYYY-MM)")

_chart_lock = threading.Lock()  # pyplot is not thread-safe


def _functions() -> dict[str, Callable[..., dict[str, Any]]]:
    from ...reports import adoption, clauses_report, licenses_report

    return {"adoption": adoption, "licenses": licenses_report, "clauses": clauses_report}


def store_version(state: WebState) -> tuple[Any, ...]:
    """Changes whenever an import, a new model or a new generated license changes the reports."""
    with state.cursor() as cur:
        return cur.execute(
            "SELECT (SELECT coalesce(max(run_id), 0) FROM import_runs), (SELECT count(*) FROM models),"
            " (SELECT count(*) FROM generated_licenses), (SELECT max(created_at) FROM generated_licenses)"
        ).fetchone()


def _cache(state: WebState) -> "OrderedDict[tuple, Any]":
    return state.extras.setdefault("report_cache", OrderedDict())


def _cached(state: WebState, key: tuple, make: Callable[[], Any], limit: int = 256) -> Any:
    cache = _cache(state)
    full = (store_version(state), *key)
    if full in cache:
        cache.move_to_end(full)
        return cache[full]
    value = make()
    cache[full] = value
    while len(cache) > limit:
        cache.popitem(last=False)
    return value


def report_data(state: WebState, report: str, since: str | None, until: str | None) -> dict[str, Any]:
    """The report ``report`` on the app's store (cached until the store changes)."""
    fn = _functions()[report]

    def make() -> dict[str, Any]:
        with state.cursor() as cur:
            return fn(cur, since, until)

    return _cached(state, ("data", report, since, until), make)


def report_chart(state: WebState, report: str, since: str | None, until: str | None) -> bytes:
    """The report's chart as SVG bytes (:func:`railtrack.reports.charts.chart`)."""
    from ...reports.charts import chart

    def make() -> bytes:
        data = report_data(state, report, since, until)
        with _chart_lock:
            return chart(report, data, "svg")

    return _cached(state, ("chart", report, since, until), make)


def families_csv(data: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["family", "models", "behavioral_use", "downloads", "share"])
    for name, row in data["families"].items():
        w.writerow([name, row["models"], row["behavioral_use"], row["downloads"], row["share"]])
    return buf.getvalue()


def configurations_csv(data: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["population", "rank", "count", "share", "clauses"])
    for part in ("generated", "hub"):
        for i, cfg in enumerate(data[part]["configurations"], 1):
            w.writerow([part, i, cfg["count"], cfg.get("share"), " ".join(cfg["clauses"])])
    return buf.getvalue()


#: CSV tables per report: the main one is the numbers behind the report's chart.
TABLES = {
    "adoption": {"main": "by_month", "families": families_csv},
    "licenses": {"main": "top"},
    "clauses": {"main": "by_month", "configurations": configurations_csv},
}


def report_csv(state: WebState, report: str, table: str, since: str | None, until: str | None) -> str:
    from ...errors import NotFoundError
    from ...reports.render import to_csv

    data = report_data(state, report, since, until)
    if table == "main":
        return to_csv(report, data)
    fn = TABLES[report].get(table)
    if fn is None or isinstance(fn, str):
        raise NotFoundError(f"report {report} has no table {table!r}; tables: {', '.join(TABLES[report])}")
    return fn(data)


@router.get("/adoption", summary="Adoption of behavioral-use licenses over time")
def api_adoption(request: Request, since: str | None = SINCE, until: str | None = UNTIL) -> dict[str, Any]:
    """``total_models``, ``licenses`` (declared id -> models), ``families`` and ``by_month``
    (``{month, models, behavioral_use, share, downloads, behavioral_use_downloads, ...}``)."""
    return report_data(get_state(request), "adoption", since, until)


@router.get("/licenses", summary="Top licenses overall and over time")
def api_licenses_report(request: Request, since: str | None = SINCE, until: str | None = UNTIL) -> dict[str, Any]:
    return report_data(get_state(request), "licenses", since, until)


@router.get("/clauses", summary="Clause configurations and their convergence")
def api_clauses(request: Request, since: str | None = SINCE, until: str | None = UNTIL) -> dict[str, Any]:
    """For generated licenses and identified behavioral-use licenses on the Hub: chosen domains
    and clauses, configurations, the share of the most common one and mean pairwise Jaccard."""
    return report_data(get_state(request), "clauses", since, until)


@router.get("/{report}/chart.svg", summary="A report's chart (SVG)", response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}}, "description": "SVG chart"}})
def api_chart(request: Request, report: Report, since: str | None = SINCE, until: str | None = UNTIL) -> Response:
    svg = report_chart(get_state(request), report, since, until)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-cache"})


@router.get("/{report}.csv", summary="The numbers behind a report's chart (CSV)", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "CSV table"}})
def api_csv(
    request: Request,
    report: Report,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    table: str = Query("main", max_length=40,
                       description="main (the chart's numbers), families (adoption), configurations (clauses)"),
) -> Response:
    text = report_csv(get_state(request), report, table, since, until)
    name = f"railtrack-{report}" + ("" if table == "main" else f"-{table}")
    if since:
        name += f"-since-{since}"
    if until:
        name += f"-until-{until}"
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@router.get("/html", summary="Self-contained HTML report (all three reports, inline charts)", response_class=Response,
            responses={200: {"content": {"text/html": {}}, "description": "HTML report"}})
def api_html_report(request: Request, since: str | None = SINCE, until: str | None = UNTIL) -> Response:
    """The same page as ``railtrack report ... --html``, as a download."""
    from ...reports.render import html_report

    state = get_state(request)
    data = {name: report_data(state, name, since, until) for name in ("adoption", "licenses", "clauses")}

    def make() -> str:
        with _chart_lock, state.cursor() as cur:
            return html_report(cur, since, until, data=data)

    html = _cached(state, ("html", since, until), make, limit=16)
    return Response(html, media_type="text/html; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="railtrack-report.html"',
        # a standalone document with its own inline styles and SVG; never script
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    })
