"""License drift over the whole store: how licenses change from base to derivative.

* **mutation rate**: the mean over parent -> child edges (both license sets known, i.e.
  non-empty) of ``|A ∪ B − A ∩ B| / |A ∪ B|``, overall and per relation, with the
  direction of each mutated edge (``to-permissive``, ``to-restrictive``, ``lateral``,
  ``unknown``; classes from the license registry: non-commercial > behavioral-use >
  permissive);
* **top transitions**: the most common (parent license set -> child license set) pairs among
  mutated edges;
* **restriction retention**: of the derivatives of behavioral-use bases, the share that
  declare a behavioral-use license themselves (and the share with the very same license).

The set arithmetic runs in DuckDB; only the distinct license sets are classified in Python.
"""

from __future__ import annotations

from typing import Any

import duckdb

from .audit import set_category
from .licenses import classify, direction

_EDGES = """
SELECT b.relation,
       list_sort(list_distinct(p.licenses)) AS pl,
       list_sort(list_distinct(c.licenses)) AS cl,
       count(*) AS n
FROM base_models b
JOIN models p ON p.model_id = b.base_id
JOIN models c ON c.model_id = b.model_id
WHERE len(p.licenses) > 0 AND len(c.licenses) > 0
GROUP BY ALL
"""

_RETENTION = """
SELECT list_sort(list_distinct(p.licenses)) AS pl,
       list_sort(list_distinct(coalesce(c.licenses, []))) AS cl,
       count(*) AS n
FROM base_models b
JOIN models p ON p.model_id = b.base_id
LEFT JOIN models c ON c.model_id = b.model_id
WHERE len(p.licenses) > 0
GROUP BY ALL
"""


def _label(licenses: list[str]) -> str:
    return "+".join(licenses) if licenses else "none"


def drift(con: duckdb.DuckDBPyConnection, top: int = 20) -> dict[str, Any]:
    """Store-wide drift metrics (JSON-serialisable)."""
    rows = con.execute(_EDGES).fetchall()
    per: dict[str, dict[str, Any]] = {}
    transitions: dict[tuple[str, str], int] = {}
    total_edges, total_mut, total_mutated = 0, 0.0, 0
    overall_dir: dict[str, int] = {}
    for rel, pl, cl, n in rows:
        a, b = set(pl), set(cl)
        union = a | b
        m = len(union - (a & b)) / len(union)
        d = per.setdefault(rel, {"edges": 0, "mutated": 0, "sum": 0.0, "direction": {}})
        d["edges"] += n
        d["sum"] += m * n
        total_edges += n
        total_mut += m * n
        if m > 0:
            d["mutated"] += n
            total_mutated += n
            way = direction(set_category(pl), set_category(cl))
            d["direction"][way] = d["direction"].get(way, 0) + n
            overall_dir[way] = overall_dir.get(way, 0) + n
            key = (_label(pl), _label(cl))
            transitions[key] = transitions.get(key, 0) + n
    per_relation = {
        rel: {"edges": d["edges"], "mutated": d["mutated"],
              "mutation_rate": round(d["sum"] / d["edges"], 4) if d["edges"] else None,
              "direction": dict(sorted(d["direction"].items()))}
        for rel, d in sorted(per.items())
    }
    top_transitions = [
        {"parent": p, "child": c, "edges": n,
         "direction": direction(set_category(p.split("+")), set_category([] if c == "none" else c.split("+")))}
        for (p, c), n in sorted(transitions.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    ]

    # retention of restrictions by derivatives of behavioral-use bases
    bu_total = bu_known = bu_keep = bu_same = 0
    for pl, cl, n in con.execute(_RETENTION).fetchall():
        pinfos = [classify(t) for t in pl]
        if not any(i.behavioral_use for i in pinfos):
            continue
        bu_total += n
        cinfos = [classify(t) for t in cl]
        if not any(i.known for i in cinfos):
            continue
        bu_known += n
        if any(i.behavioral_use for i in cinfos):
            bu_keep += n
        if set(pl) & set(cl):
            bu_same += n
    return {
        "edges": total_edges,
        "mutated": total_mutated,
        "mutation_rate": round(total_mut / total_edges, 4) if total_edges else None,
        "direction": dict(sorted(overall_dir.items())),
        "per_relation": per_relation,
        "top_transitions": top_transitions,
        "behavioral_use_retention": {
            "derivatives": bu_total,
            "with_known_license": bu_known,
            "keep_restrictions": bu_keep,
            "same_license": bu_same,
            "share_keep": round(bu_keep / bu_known, 4) if bu_known else None,
            "share_same_license": round(bu_same / bu_known, 4) if bu_known else None,
        },
    }
