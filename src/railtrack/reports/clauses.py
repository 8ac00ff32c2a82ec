"""Which use restrictions licenses choose, and whether those choices converge over time.

Two populations are measured the same way:

* **generated**: licenses made with the generator (``generated_licenses``, filled by
  ``railtrack license new``); a license's *configuration* is its set of catalogue clause
  ids (``restrictions``). Custom clauses are counted separately (``custom_clauses``), not
  in the configuration, since each is unique text.
* **hub**: Hub models under a behavioral-use license (declared, or identified when only
  ``other``/nothing is declared); a model's configuration is the set of catalogue clauses
  whose ``sources`` list its license (the catalogue records which known licenses carry a
  comparable restriction). Models under ``other`` are mapped through their
  ``license_name``; behavioral-use licenses the catalogue has no clause mapping for (e.g.
  the generic ``openrail``) are counted as ``unmapped_models``.

For each: counts per restriction domain and clause, the distribution of configurations,
the share of the most common configuration and the mean pairwise Jaccard similarity of
configurations (1.0 = everyone chose the same clauses), per month and cumulatively, and
the yearly slope of the cumulative mean Jaccard: the **convergence** measure (a positive
slope means licenses are becoming more alike).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations
from typing import Any, Iterable

import duckdb

from .common import HUB_CAVEAT, date_filter, require_models, share

TOP_CONFIGURATIONS = 10


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """|a & b| / |a | b|; two empty sets are identical (1.0)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def mean_pairwise_jaccard(configs: Counter) -> float | None:
    """Mean Jaccard similarity over all unordered pairs of items, from configuration counts.

    Exact and O(k^2) in the number k of distinct configurations (not in the number of
    items): pairs inside one configuration have similarity 1.
    """
    n = sum(configs.values())
    if n < 2:
        return None
    pairs = n * (n - 1) / 2
    total = sum(c * (c - 1) / 2 for c in configs.values())
    for (a, ca), (b, cb) in combinations(configs.items(), 2):
        total += ca * cb * jaccard(a, b)
    return round(total / pairs, 6)


def _summary(items: Iterable[tuple[str | None, frozenset[str], int]], domain_of: dict[str, str]) -> dict[str, Any]:
    """Summaries of (month, configuration, weight) items."""
    configs: Counter = Counter()
    by_month: dict[str, Counter] = defaultdict(Counter)
    for month, config, weight in items:
        configs[config] += weight
        if month:
            by_month[month][config] += weight
    count = sum(configs.values())
    clause_counts: Counter = Counter()
    domain_counts: Counter = Counter()
    for config, c in configs.items():
        for cid in config:
            clause_counts[cid] += c
        for d in {domain_of.get(cid, cid.split(".")[0]) for cid in config}:
            domain_counts[d] += c
    top = configs.most_common(TOP_CONFIGURATIONS)
    months = []
    cumulative: Counter = Counter()
    for month in sorted(by_month):
        cm = by_month[month]
        cumulative.update(cm)
        n_m, n_c = sum(cm.values()), sum(cumulative.values())
        months.append({
            "month": month,
            "count": n_m,
            "distinct_configurations": len(cm),
            "top_configuration_share": share(cm.most_common(1)[0][1], n_m) if n_m else 0.0,
            "mean_jaccard": mean_pairwise_jaccard(cm),
            "cumulative_count": n_c,
            "cumulative_top_configuration_share": share(cumulative.most_common(1)[0][1], n_c) if n_c else 0.0,
            "cumulative_mean_jaccard": mean_pairwise_jaccard(cumulative),
        })
    return {
        "count": count,
        "domains": dict(sorted(domain_counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        "clauses": dict(sorted(clause_counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        "distinct_configurations": len(configs),
        "configurations": [{"clauses": sorted(c), "count": n, "share": share(n, count)} for c, n in top],
        "top_configuration_share": share(top[0][1], count) if top else 0.0,
        "mean_jaccard": mean_pairwise_jaccard(configs),
        "by_month": months,
        "convergence": _convergence(months),
    }


def _convergence(months: list[dict[str, Any]]) -> dict[str, Any]:
    """Least-squares slope (per year) of the cumulative mean Jaccard over months."""
    pts = [(i, m["cumulative_mean_jaccard"]) for i, m in enumerate(months) if m["cumulative_mean_jaccard"] is not None]
    if len(pts) < 3:
        return {"jaccard_slope_per_year": None, "trend": "insufficient data"}
    import numpy as np

    x = np.array([p[0] for p in pts], dtype=float)
    y = np.array([p[1] for p in pts], dtype=float)
    slope = float(np.polyfit(x, y, 1)[0]) * 12
    trend = "converging" if slope > 0.01 else "diverging" if slope < -0.01 else "stable"
    return {"jaccard_slope_per_year": round(slope, 6), "trend": trend}


def _catalog() -> tuple[dict[str, str], dict[str, frozenset[str]], str | None]:
    """(clause id -> domain, license id -> configuration, catalogue version)."""
    try:
        from ..catalog.clauses import load_catalog

        cat = load_catalog()
    except Exception:
        return {}, {}, None
    domain_of = {c.id: c.domain for c in cat.clauses}
    by_license: dict[str, set[str]] = defaultdict(set)
    for c in cat.clauses:
        for src in c.sources:
            by_license[src].add(c.id)
    return domain_of, {k: frozenset(v) for k, v in by_license.items()}, str(cat.version)


def _resolver():
    """license name/link -> registry id (``other`` + ``license_name`` models), or None."""
    try:
        from ..catalog.registry import load_registry

        reg = load_registry()
    except Exception:
        return lambda key: None

    def resolve(key: str) -> str | None:
        entry = reg.resolve(key)
        return entry.id if entry is not None else None

    return resolve


def clauses_report(con: duckdb.DuckDBPyConnection, since: Any = None, until: Any = None) -> dict[str, Any]:
    """Clause choices and their convergence for generated licenses and Hub behavioral-use licenses.

    ``since``/``until`` filter on the license's creation date (generated) and the model's
    creation date (hub).
    """
    domain_of, by_license, version = _catalog()
    where_g, params_g, echo = date_filter(since, until, "created_at")
    gen_rows = con.execute(
        f"""SELECT strftime(date_trunc('month', created_at), '%Y-%m'), restrictions, domains, custom_count
            FROM generated_licenses WHERE {where_g}""",
        params_g,
    ).fetchall()
    n_models = int(con.execute("SELECT count(*) FROM models").fetchone()[0])
    if not gen_rows and n_models == 0:
        require_models(con)  # raises the how-to hint
    for _, restrictions, domains, _ in gen_rows:
        for cid, dom in zip(restrictions or [], domains or []):
            domain_of.setdefault(cid, dom)
    generated = _summary(((m, frozenset(r or []), 1) for m, r, _, _ in gen_rows), domain_of)
    generated["custom_clauses"] = int(sum(int(c or 0) for *_, c in gen_rows))

    where_h, params_h, _ = date_filter(since, until, "created_at")
    hub_rows = con.execute(
        f"""SELECT strftime(date_trunc('month', created_at), '%Y-%m') AS month,
                   CASE WHEN identified_license IS NOT NULL AND (len(licenses) = 0 OR licenses = ['other'])
                        THEN identified_license ELSE licenses[1] END AS lic,
                   licenses, license_name, count(*) AS n
            FROM models WHERE behavioral_use AND {where_h}
            GROUP BY ALL""",
        params_h,
    ).fetchall()
    adopted: Counter = Counter()
    items = []
    unmapped = 0
    resolve = _resolver()
    for month, lic, licenses, license_name, n in hub_rows:
        config = None
        named = resolve(license_name) if license_name else None
        for cand in ([lic] if lic else []) + list(licenses or []) + ([named] if named else []):
            if cand in by_license:
                config, lic = by_license[cand], cand
                break
        if config is None:
            unmapped += int(n)
            continue
        adopted[lic] += int(n)
        items.append((month, config, int(n)))
    hub = _summary(items, domain_of)
    hub["licenses"] = dict(adopted.most_common())
    hub["unmapped_models"] = unmapped
    return {
        "report": "clauses",
        **echo,
        "catalog_version": version,
        "generated": generated,
        "hub": hub,
        "caveat": HUB_CAVEAT,
    }
