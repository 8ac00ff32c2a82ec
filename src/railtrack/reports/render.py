"""Output forms of the reports: a self-contained HTML page and CSV tables."""

from __future__ import annotations

import csv
import io
from typing import Any

import duckdb

from .common import HUB_CAVEAT


def _svg_inline(data: bytes) -> str:
    """SVG bytes -> markup to inline in HTML (XML declaration and DOCTYPE dropped)."""
    text = data.decode("utf-8")
    start = text.find("<svg")
    return text[start:] if start >= 0 else ""


def html_report(
    con: duckdb.DuckDBPyConnection,
    since: Any = None,
    until: Any = None,
    *,
    reports: tuple[str, ...] = ("adoption", "licenses", "clauses"),
    data: dict[str, dict[str, Any]] | None = None,
) -> str:
    """A self-contained HTML page (inline SVG charts, no external resources, escaped text)."""
    import jinja2

    from .. import __version__
    from . import adoption as adoption_fn, clauses_report, licenses_report
    from .charts import chart

    data = dict(data or {})
    fns = {"adoption": adoption_fn, "licenses": licenses_report, "clauses": clauses_report}
    for name in reports:
        if name not in data:
            data[name] = fns[name](con, since, until)
    charts = {name: _svg_inline(chart(name, data[name], "svg")) for name in reports}
    env = jinja2.Environment(loader=jinja2.PackageLoader("railtrack.reports", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    first = data[reports[0]]
    return env.get_template("report.html.j2").render(
        title=", ".join(reports), version=__version__, since=first.get("since"), until=first.get("until"),
        caveat=HUB_CAVEAT, charts=charts, adoption=data.get("adoption"), licenses=data.get("licenses"),
        clauses=data.get("clauses"),
    )


def _cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in user-typed text (a leading =, +, -, @ gets a quote)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(report: str, data: dict[str, Any]) -> str:
    """The main table of a report as CSV (one row per month / license / configuration)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if report == "adoption":
        cols = ["month", "models", "behavioral_use", "share", "downloads", "behavioral_use_downloads",
                "downloads_share", "cumulative_models", "cumulative_behavioral_use", "cumulative_share"]
        w.writerow(cols)
        for m in data["by_month"]:
            w.writerow([m[c] for c in cols])
    elif report == "licenses":
        cols = ["license", "name", "family", "behavioral_use", "models", "share", "downloads"]
        w.writerow(cols)
        for t in data["top"]:
            w.writerow([_cell(t[c]) for c in cols])
    elif report == "clauses":
        w.writerow(["population", "month", "count", "distinct_configurations", "top_configuration_share",
                    "mean_jaccard", "cumulative_count", "cumulative_top_configuration_share", "cumulative_mean_jaccard"])
        for part in ("generated", "hub"):
            for m in data[part]["by_month"]:
                w.writerow([part, m["month"], m["count"], m["distinct_configurations"], m["top_configuration_share"],
                            m["mean_jaccard"], m["cumulative_count"], m["cumulative_top_configuration_share"],
                            m["cumulative_mean_jaccard"]])
    else:
        raise ValueError(f"unknown report {report!r}")
    return buf.getvalue()
