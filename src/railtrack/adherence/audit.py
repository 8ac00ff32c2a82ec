"""Audit a model, or every descendant of a model, against the obligations of its bases' licenses.

The obligations that bind a derivative are those of every ancestor's license that a rule
family governs (Llama, Gemma, RAIL, non-commercial ...), the nearest ancestor per license:
a quantized copy of a fine-tune of Llama 2 is checked against the Llama 2 terms even when
the fine-tune in between declared something else. A merge inherits the obligations of all
its bases. The result is a JSON-serialisable dict (the CLI and the web app print it as is).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

import duckdb

from ..errors import NotFoundError
from .evidence import Evidence, gather
from .licenses import LicenseInfo, classify, direction
from .lineage import LineageGraph, LineageNode
from .rules import CANNOT_TELL, COMPLIANT, VERDICTS, VIOLATION, Context, Family, Rule, RuleResult, governed, rules_for, worst


def base_licenses(ev: Evidence) -> list[LicenseInfo]:
    """The licenses of ``ev`` that carry obligations we check (declared, else named, else identified)."""
    out: list[LicenseInfo] = []
    for tag in ev.licenses:
        info = classify(tag)
        if info.known and governed(info):
            out.append(info)
    if out:
        return out
    if not any(classify(t).known for t in ev.licenses):
        for alt in (ev.license_name, ev.identified_license):
            if alt:
                info = classify(alt)
                if info.known and governed(info):
                    return [info]
    return []


def license_set(ev: Evidence) -> list[str]:
    return sorted(set(ev.licenses))


def mutation(a: Iterable[str], b: Iterable[str]) -> float:
    """|A ∪ B − A ∩ B| / |A ∪ B| of two license sets (0 when both are empty)."""
    sa, sb = set(a), set(b)
    union = sa | sb
    if not union:
        return 0.0
    return len(union - (sa & sb)) / len(union)


def set_category(licenses: Iterable[str]) -> LicenseInfo:
    """The most restrictive known license of a set (for drift direction)."""
    rank = {"non-commercial": 3, "behavioral-use": 2, "permissive": 1, "unknown": 0}
    best = LicenseInfo("none", False)
    for t in licenses:
        info = classify(t)
        if rank[info.category] > rank[best.category]:
            best = info
    return best


@dataclass
class _Governing:
    ancestor: str
    distance: int
    info: LicenseInfo


class Auditor:
    """Evaluates models against the rules; reusable across calls on the same store snapshot."""

    def __init__(self, con: duckdb.DuckDBPyConnection, graph: LineageGraph | None = None) -> None:
        self.con = con
        self.graph = graph if graph is not None else LineageGraph.from_store(con)
        self.evidence: dict[str, Evidence] = {}
        self._own: dict[str, list[LicenseInfo]] = {}
        self._gov: dict[str, dict[str, _Governing]] = {}
        self._carded: set[str] = set()

    # -- data ------------------------------------------------------------------------------
    def _load(self, ids: Iterable[str], with_cards: bool) -> None:
        if with_cards:
            need = [i for i in ids if i not in self._carded]
        else:
            need = [i for i in ids if i not in self.evidence]
        if not need:
            return
        got = gather(self.con, need, with_cards=with_cards)
        self.evidence.update(got)
        if with_cards:
            self._carded.update(got)

    def _ancestry(self, ids: Iterable[str]) -> set[str]:
        seen: set[str] = set()
        stack = list(ids)
        parents = self.graph.parents
        while stack:
            x = stack.pop()
            for p, _ in parents.get(x, ()):
                if p not in seen:
                    seen.add(p)
                    stack.append(p)
        return seen

    def own(self, model_id: str) -> list[LicenseInfo]:
        hit = self._own.get(model_id)
        if hit is None:
            ev = self.evidence.get(model_id)
            hit = base_licenses(ev) if ev is not None and ev.in_store else []
            self._own[model_id] = hit
        return hit

    def governing(self, model_id: str) -> dict[str, _Governing]:
        """License id -> nearest ancestor holding it, over all ancestors (merges: all bases)."""
        memo = self._gov
        if model_id in memo:
            return memo[model_id]
        parents = self.graph.parents
        stack = [model_id]
        opened: set[str] = set()
        while stack:
            x = stack[-1]
            if x in memo:
                stack.pop()
                continue
            if x not in opened:
                opened.add(x)
                pending = [p for p, _ in parents.get(x, ()) if p not in memo and p not in opened]
                if pending:
                    stack.extend(pending)
                    continue
            res: dict[str, _Governing] = {}
            for p, _ in parents.get(x, ()):
                for info in self.own(p):
                    cur = res.get(info.id)
                    if cur is None or cur.distance > 1:
                        res[info.id] = _Governing(p, 1, info)
                for lic, g in memo.get(p, {}).items():
                    cur = res.get(lic)
                    if cur is None or cur.distance > g.distance + 1:
                        res[lic] = _Governing(g.ancestor, g.distance + 1, g.info)
            memo[x] = res
            stack.pop()
        return memo[model_id]

    # -- evaluation ------------------------------------------------------------------------
    def evaluate(self, model_id: str, relation: str) -> list[RuleResult]:
        ev = self.evidence[model_id]
        if not ev.in_store:
            return [RuleResult("lineage/model-in-store", CANNOT_TELL,
                               f"{model_id} is named as a derivative but has no record in the store", [],
                               None, None, "The derivative's metadata is known")]
        gov = self.governing(model_id)
        results: list[RuleResult] = []
        rel = relation if relation in ("finetune", "adapter", "quantized", "merge") else "unknown"
        for lic in sorted(gov):
            g = gov[lic]
            for rule in rules_for(g.info, rel):
                family = rule.family if isinstance(getattr(rule, "family", None), Family) else \
                    Family(str(getattr(rule, "family", "plugin")), str(getattr(rule, "family", "plugin")))
                ctx = Context.build(ev, rel, g.ancestor, g.info, family)
                res = rule.evaluate(ctx)
                if not isinstance(res, RuleResult):
                    res = RuleResult(**dict(res))
                results.append(res)
        if not gov:
            for p, _ in self.graph.parents.get(model_id, ()):
                pev = self.evidence.get(p)
                if pev is None or not pev.in_store:
                    results.append(RuleResult("lineage/base-known", CANNOT_TELL,
                                              f"base {p} is not in the store, so its license obligations are unknown",
                                              [{"source": "base_model", "value": p}], p, None,
                                              "The base model's license is known"))
                elif not pev.licenses and not pev.license_name and not pev.identified_license \
                        and not self._ancestry([p]):
                    results.append(RuleResult("lineage/base-license-known", CANNOT_TELL,
                                              f"base {p} declares no license, so its obligations are unknown",
                                              [{"source": "base_model", "value": p}], p, None,
                                              "The base model's license is known"))
        return results

    def entry(self, node: LineageNode) -> dict[str, Any]:
        ev = self.evidence[node.id]
        relation = node.relation
        parents = self.graph.parents.get(node.id, [])
        if relation == "root":
            relation = parents[0][1] if parents else "none"
        results = self.evaluate(node.id, relation)
        return {
            "id": node.id,
            "relation": relation,
            "depth": node.depth,
            "parents": [{"id": p, "relation": r} for p, r in parents],
            "declared_license": ev.declared,
            "license_name": ev.license_name,
            "in_store": ev.in_store,
            "verdict": worst(r.verdict for r in results),
            "rules": [r.to_dict() for r in results],
        }


def _edge_drift(edges: list[tuple[str, str, str]], evidence: dict[str, Evidence]) -> dict[str, Any]:
    """Mutation rate and direction per relation over edges whose two license sets are known."""
    per: dict[str, dict[str, Any]] = {}
    total_n, total_m = 0, 0.0
    for child, parent, rel in edges:
        ce, pe = evidence.get(child), evidence.get(parent)
        if ce is None or pe is None or not ce.licenses or not pe.licenses:
            continue
        m = mutation(pe.licenses, ce.licenses)
        d = per.setdefault(rel, {"edges": 0, "mutated": 0, "mutation_rate": 0.0, "direction": Counter()})
        d["edges"] += 1
        d["mutated"] += m > 0
        d["mutation_rate"] += m
        d["direction"][direction(set_category(pe.licenses), set_category(ce.licenses)) if m > 0 else "unchanged"] += 1
        total_n += 1
        total_m += m
    out = {}
    for rel, d in sorted(per.items()):
        out[rel] = {"edges": d["edges"], "mutated": d["mutated"],
                    "mutation_rate": round(d["mutation_rate"] / d["edges"], 4) if d["edges"] else None,
                    "direction": dict(sorted(d["direction"].items()))}
    return {"edges": total_n, "mutation_rate": round(total_m / total_n, 4) if total_n else None, "per_relation": out}


def audit(con: duckdb.DuckDBPyConnection, model_id: str, descendants: bool = False, *,
          max_depth: int | None = None, graph: LineageGraph | None = None,
          auditor: Auditor | None = None) -> dict[str, Any]:
    """Audit ``model_id`` (against its bases), or with ``descendants=True`` every model derived
    from it (against the obligations of their bases' licenses, ``model_id``'s included).

    Returns ``{model, base, descendants, generated_at, derivatives: [{id, relation, depth,
    parents, declared_license, license_name, in_store, verdict, rules: [{rule, verdict, reason,
    evidence, base, license, title}]}], summary: {derivatives, verdicts, rules, drift, cycles,
    missing}}``; ``verdict`` is the worst of the model's rules (``compliant`` when none apply).
    Raises :class:`NotFoundError` when the model is neither in the store nor on any edge.
    """
    aud = auditor or Auditor(con, graph)
    g = aud.graph
    root_ev = gather(con, [model_id], with_cards=False)[model_id]
    if not root_ev.in_store and not g.has(model_id):
        raise NotFoundError(f"model {model_id!r} is not in the store")
    cycles: list[list[str]] = []
    truncated = False
    if descendants:
        walk = g.descendants(model_id, max_depth)
        nodes = walk.nodes[1:]
        cycles = [list(e) for e in walk.cycle_edges]
        truncated = walk.truncated
    else:
        nodes = [LineageNode(model_id, 0, "root", None, g.parents_of(model_id), g.is_missing(model_id))]
    target_ids = [n.id for n in nodes]
    aud._load(target_ids, with_cards=True)
    aud._load([model_id, *aud._ancestry(target_ids)], with_cards=False)
    derivatives = [aud.entry(n) for n in nodes]

    verdicts = Counter(d["verdict"] for d in derivatives)
    per_rule: dict[str, Counter[str]] = defaultdict(Counter)
    for d in derivatives:
        for r in d["rules"]:
            per_rule[r["rule"]][r["verdict"]] += 1
    edges = [(c, p, r) for c in target_ids for p, r in g.parents.get(c, ())]
    summary = {
        "derivatives": len(derivatives),
        "verdicts": {v: verdicts.get(v, 0) for v in VERDICTS},
        "rules": {k: {v: c.get(v, 0) for v in VERDICTS} for k, c in sorted(per_rule.items())},
        "drift": _edge_drift(edges, aud.evidence),
        "relations": dict(sorted(Counter(d["relation"] for d in derivatives).items())),
        "missing": sum(1 for d in derivatives if not d["in_store"]),
        "cycles": cycles,
        "truncated": truncated,
    }
    return {
        "model": model_id,
        "base": {
            "id": model_id,
            "in_store": root_ev.in_store,
            "declared_license": root_ev.declared,
            "obligations": sorted({r.id for info in base_licenses(root_ev)
                                   for rel in ("finetune", "adapter", "quantized", "merge")
                                   for r in rules_for(info, rel)}),
        },
        "descendants": descendants,
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "derivatives": derivatives,
        "summary": summary,
    }


__all__ = ["Auditor", "audit", "base_licenses", "mutation", "COMPLIANT", "VIOLATION", "CANNOT_TELL", "Rule"]
