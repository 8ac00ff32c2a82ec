"""Top declared licenses overall and over time (per month of model creation)."""

from __future__ import annotations

from typing import Any

import duckdb

from .common import HUB_CAVEAT, date_filter, license_info, require_models, share

OTHERS = "(all other licenses)"


def licenses_report(con: duckdb.DuckDBPyConnection, since: Any = None, until: Any = None, *, top: int = 15) -> dict[str, Any]:
    """Top ``top`` declared licenses with model and download counts, and their monthly series.

    A model with several licenses counts once for each; a model with none counts as
    ``none``. ``by_month`` lists, per month, the models under each top license (the rest
    summed as ``(all other licenses)``) and their share of that month's models. Returns::

        {"total_models", "distinct_licenses",
         "top": [{license, models, share, downloads, behavioral_use, family, name}],
         "by_month": [{month, models, licenses: {id: count}, shares: {id: share}}], ...}
    """
    if top < 1:
        from ..errors import UsageError

        raise UsageError("--top must be at least 1")
    require_models(con)
    where, params, echo = date_filter(since, until)
    src = f"(SELECT created_at, coalesce(downloads, 0) AS downloads, licenses FROM models WHERE {where})"
    total = int(con.execute(f"SELECT count(*) FROM {src}", params).fetchone()[0])
    rows = con.execute(
        f"""SELECT coalesce(l, 'none') AS license, count(*) AS n, coalesce(sum(downloads), 0) AS d FROM (
                SELECT unnest(CASE WHEN len(licenses) = 0 THEN [NULL::VARCHAR] ELSE licenses END) AS l, downloads
                FROM {src}) GROUP BY 1 ORDER BY n DESC, license""",
        params,
    ).fetchall()
    info = license_info([r[0] for r in rows[:top]])
    top_rows = [{"license": lic, "models": int(n), "share": share(n, total), "downloads": int(d),
                 "behavioral_use": info[lic]["behavioral_use"], "family": info[lic]["family"], "name": info[lic]["name"]}
                for lic, n, d in rows[:top]]
    top_ids = [r["license"] for r in top_rows]
    month_rows = con.execute(
        f"""WITH x AS (
                SELECT strftime(date_trunc('month', created_at), '%Y-%m') AS month,
                       unnest(CASE WHEN len(licenses) = 0 THEN ['none'] ELSE licenses END) AS l
                FROM {src} WHERE created_at IS NOT NULL),
            m AS (SELECT strftime(date_trunc('month', created_at), '%Y-%m') AS month, count(*) AS n
                  FROM {src} WHERE created_at IS NOT NULL GROUP BY 1)
            SELECT x.month, CASE WHEN list_contains(?, x.l) THEN x.l ELSE ? END AS lic, count(*), any_value(m.n)
            FROM x JOIN m USING (month) GROUP BY 1, 2 ORDER BY 1, 3 DESC""",
        params + params + [top_ids, OTHERS],
    ).fetchall()
    by_month: dict[str, dict[str, Any]] = {}
    for month, lic, n, month_total in month_rows:
        entry = by_month.setdefault(month, {"month": month, "models": int(month_total), "licenses": {}, "shares": {}})
        entry["licenses"][lic] = int(n)
        entry["shares"][lic] = share(n, month_total)
    return {
        "report": "licenses",
        **echo,
        "total_models": total,
        "distinct_licenses": len(rows),
        "top": top_rows,
        "by_month": [by_month[k] for k in sorted(by_month)],
        "caveat": HUB_CAVEAT,
    }
