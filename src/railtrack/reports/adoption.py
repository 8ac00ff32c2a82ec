"""Adoption of behavioral-use licenses on the Hub, per month of model creation.

A model counts as *behavioral use* when ``models.behavioral_use`` is true: its declared
license is a behavioral-use license in the registry (RAIL family, Llama, Gemma,
DeepSeek, ...), or it declares ``other`` with a ``license_name``/``license_link`` the
registry resolves to one, or identification found one in its card / LICENSE text (see
:mod:`railtrack.hub.classify`). Everything is computed in DuckDB SQL, so the report over 2
million models takes about a second.
"""

from __future__ import annotations

from typing import Any

import duckdb

from .common import HUB_CAVEAT, date_filter, family_table, license_info, require_models, share

MONTH = "strftime(date_trunc('month', created_at), '%Y-%m')"


def _behavioral_ids(ids: list[str]) -> list[str]:
    info = license_info(ids)
    return sorted(i for i, v in info.items() if v["behavioral_use"])


def _sql_list(values: list[str]) -> str:
    if not values:
        return "[]::VARCHAR[]"
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]::VARCHAR[]"


def adoption(con: duckdb.DuckDBPyConnection, since: Any = None, until: Any = None) -> dict[str, Any]:
    """The adoption report: totals, declared licenses, families and the monthly series.

    ``since``/``until`` (``YYYY-MM-DD`` or ``YYYY-MM``, inclusive) filter on the model's
    creation date. Returns::

        {"total_models", "behavioral_use", "share", "downloads", "behavioral_use_downloads",
         "downloads_share", "undated", "licenses": {id|"none": count},
         "families": {family: {models, behavioral_use, downloads}},
         "by_month": [{month: "YYYY-MM", models, behavioral_use, share, downloads,
                       behavioral_use_downloads, downloads_share, cumulative_models,
                       cumulative_behavioral_use, cumulative_share}],
         "since", "until", "caveat"}

    Raises :class:`~railtrack.reports.common.NoDataError` on an empty store.
    """
    require_models(con)
    where, params, echo = date_filter(since, until)
    src = (f"(SELECT model_id, created_at, coalesce(downloads, 0) AS downloads, "
           f"coalesce(behavioral_use, false) AS bu, licenses FROM models WHERE {where}) AS src")
    try:
        tot = con.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE bu), coalesce(sum(downloads), 0),
                       coalesce(sum(downloads) FILTER (WHERE bu), 0), count(*) FILTER (WHERE created_at IS NULL)
                FROM {src}""", params
        ).fetchone()
        total, bu, dl, bu_dl, undated = (int(x or 0) for x in tot)
        lic_rows = con.execute(
            f"""SELECT coalesce(l, 'none') AS license, count(*) AS n FROM (
                    SELECT unnest(CASE WHEN len(licenses) = 0 THEN [NULL::VARCHAR] ELSE licenses END) AS l FROM {src})
                GROUP BY 1 ORDER BY n DESC, license""", params
        ).fetchall()
        licenses = {str(k): int(v) for k, v in lic_rows}
        ids = [k for k in licenses]
        family_table(con, ids)
        bu_ids = _behavioral_ids(ids)
        fam_rows = con.execute(
            f"""WITH pick AS (
                    SELECT CASE WHEN len(licenses) = 0 THEN 'none'
                                ELSE coalesce(list_filter(licenses, lambda x: list_contains({_sql_list(bu_ids)}, x))[1],
                                              licenses[1]) END AS license,
                           bu, downloads
                    FROM {src})
                SELECT coalesce(f.family, 'unknown') AS family, count(*) AS n, count(*) FILTER (WHERE bu),
                       coalesce(sum(downloads), 0)
                FROM pick LEFT JOIN _rt_fam f USING (license)
                GROUP BY 1 ORDER BY n DESC, family""", params
        ).fetchall()
        families = {str(f): {"models": int(n), "behavioral_use": int(b), "downloads": int(d), "share": share(n, total)}
                    for f, n, b, d in fam_rows}
        month_rows = con.execute(
            f"""SELECT {MONTH} AS month, count(*), count(*) FILTER (WHERE bu), coalesce(sum(downloads), 0),
                       coalesce(sum(downloads) FILTER (WHERE bu), 0)
                FROM {src} WHERE created_at IS NOT NULL GROUP BY 1 ORDER BY 1""", params
        ).fetchall()
    finally:
        con.execute("DROP TABLE IF EXISTS _rt_fam")
    by_month = []
    cum_n = cum_b = 0
    for month, n, b, d, bd in month_rows:
        n, b, d, bd = int(n), int(b), int(d), int(bd)
        cum_n += n
        cum_b += b
        by_month.append({
            "month": month, "models": n, "behavioral_use": b, "share": share(b, n),
            "downloads": d, "behavioral_use_downloads": bd, "downloads_share": share(bd, d),
            "cumulative_models": cum_n, "cumulative_behavioral_use": cum_b, "cumulative_share": share(cum_b, cum_n),
        })
    return {
        "report": "adoption",
        **echo,
        "total_models": total,
        "behavioral_use": bu,
        "share": share(bu, total),
        "downloads": dl,
        "behavioral_use_downloads": bu_dl,
        "downloads_share": share(bu_dl, dl),
        "undated": undated,
        "licenses": licenses,
        "families": families,
        "by_month": by_month,
        "caveat": HUB_CAVEAT,
    }
