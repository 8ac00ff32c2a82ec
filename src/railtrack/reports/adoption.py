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

from .common import HUB_CAVEAT, date_filter, license_info, require_models, share

MONTH = "strftime(date_trunc('month', created_at), '%Y-%m')"


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
    # Two passes over the models: one grouped by declared-license list (a few hundred
    # distinct lists even for millions of models), one by month of creation.
    list_rows = con.execute(
        f"""SELECT licenses, count(*), count(*) FILTER (WHERE bu), coalesce(sum(downloads), 0),
                   coalesce(sum(downloads) FILTER (WHERE bu), 0), count(*) FILTER (WHERE created_at IS NULL)
            FROM {src} GROUP BY licenses""", params
    ).fetchall()
    month_rows = con.execute(
        f"""SELECT {MONTH} AS month, count(*), count(*) FILTER (WHERE bu), coalesce(sum(downloads), 0),
                   coalesce(sum(downloads) FILTER (WHERE bu), 0)
            FROM {src} WHERE created_at IS NOT NULL GROUP BY 1 ORDER BY 1""", params
    ).fetchall()
    total = bu = dl = bu_dl = undated = 0
    lic_counts: dict[str, int] = {}
    for lics, n, b, d, bd, nd in list_rows:
        total, bu, dl, bu_dl, undated = total + n, bu + b, dl + int(d), bu_dl + int(bd), undated + nd
        for lic in (lics or ["none"]):
            lic_counts[lic] = lic_counts.get(lic, 0) + int(n)
    licenses = dict(sorted(lic_counts.items(), key=lambda kv: (-kv[1], kv[0])))
    info = license_info(list(licenses))
    fam: dict[str, dict[str, int]] = {}
    for lics, n, b, d, _bd, _nd in list_rows:
        # a model's family: that of its first behavioral-use license, else of its first license
        pick = next((x for x in (lics or []) if info[x]["behavioral_use"]), (lics or ["none"])[0])
        f = fam.setdefault(info[pick]["family"], {"models": 0, "behavioral_use": 0, "downloads": 0})
        f["models"] += int(n)
        f["behavioral_use"] += int(b)
        f["downloads"] += int(d)
    families = {k: {**v, "share": share(v["models"], total)}
                for k, v in sorted(fam.items(), key=lambda kv: (-kv[1]["models"], kv[0]))}
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
