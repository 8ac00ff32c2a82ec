"""Audit a model, or every descendant of a model, against the obligations of its bases' licenses.

The obligations that bind a derivative are those of every ancestor's license that a rule
family governs (Llama, Gemma, RAIL, non-commercial ...), the nearest ancestor per license:
a quantized copy of a fine-tune of Llama 2 is checked against the Llama 2 terms even when
the fine-tune in between declared something else. A merge inherits the obligations of all
its bases. The result is a JSON-serialisable dict (the CLI and the web app print it as is).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import partial
from operator import itemgetter
from typing import Any, Iterable

import duckdb

from ..errors import NotFoundError
from .evidence import Evidence, gather
from .licenses import LicenseInfo, classify, direction
from .lineage import LineageGraph, LineageNode
from .rules import (CANNOT_TELL, COMPLIANT, PREFILTER, VERDICTS, VIOLATION, Context, Family, Rule, RuleResult,
                    _excerpt, governed, rules_for, worst)


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


def _worst(results: list[dict[str, Any]]) -> str:
    verdict = COMPLIANT
    for r in results:
        v = r["verdict"]
        if v == VIOLATION:
            return v
        if v == CANNOT_TELL:
            verdict = v
    return verdict


_UNMEMOISED = frozenset({"naming"})  # reads the model name
_MAX_VARIANTS = 32


def _replays(ev: Evidence, log: list[Any]) -> bool:
    """Whether this model's card answers every logged query as the recorded one did."""
    if not ev.card:
        for entry in log:
            if entry[2] is not None:
                return False
        return True
    norm, body = ev.card_norm, ev.card_body
    prefilter = PREFILTER
    for pattern, body_only, outcome in log:
        hay = body if body_only else norm
        if pattern.__class__ is str:
            got = pattern if pattern in hay else None
        else:
            phrases = prefilter.get(pattern)
            if phrases is not None:
                for p in phrases:
                    if p in hay:
                        break
                else:
                    if outcome is not None:
                        return False
                    continue
            m = pattern.search(hay)
            got = m.group(0) if m else None
        if got != outcome:
            return False
    return True


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
        self._via: dict[str, dict[str, _Governing]] = {}  # parent -> obligations of its single-parent children
        self._carded: set[str] = set()
        self._rule_cache: dict[tuple[str, str, str], list[Any]] = {}
        self._sigs: dict[str, tuple[Any, ...]] = {}
        self._memo: dict[tuple[Any, ...], list[tuple[list[Any], list[Any], list[Any], bool]]] = {}
        self._plans: dict[tuple[Any, ...], list[Any]] = {}
        self._plan_by_gov: dict[tuple[int, str], list[Any]] = {}  # governing dicts live as long as the auditor
        self._families: dict[str, Family] = {}

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
        hit = memo.get(model_id)
        if hit is not None:
            return hit
        parents = self.graph.parents
        plist = parents.get(model_id, ())
        if len(plist) == 1:
            # every single-parent child of p is bound by the same obligations: computed once per parent
            via = self._via.get(plist[0][0])
            if via is not None:
                memo[model_id] = via
                return via
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
            plist = parents.get(x, ())
            if len(plist) == 1 and plist[0][0] in self._via:
                memo[x] = self._via[plist[0][0]]
                stack.pop()
                continue
            res: dict[str, _Governing] = {}
            for p, _ in plist:
                for info in self.own(p):
                    cur = res.get(info.id)
                    if cur is None or cur.distance > 1:
                        res[info.id] = _Governing(p, 1, info)
                for lic, g in memo.get(p, {}).items():
                    cur = res.get(lic)
                    if cur is None or cur.distance > g.distance + 1:
                        res[lic] = _Governing(g.ancestor, g.distance + 1, g.info)
            if len(plist) == 1:
                p0 = plist[0][0]
                if not self.own(p0) and p0 in memo:
                    res = memo[p0]  # nothing new from the parent itself: share its dict (read-only)
                self._via[p0] = res
            memo[x] = res
            stack.pop()
        return memo[model_id]

    # -- evaluation ------------------------------------------------------------------------
    def _rules_for(self, info: LicenseInfo, relation: str) -> list[Any]:
        key = (info.id, info.source, relation)
        hit = self._rule_cache.get(key)
        if hit is None:
            hit = self._rule_cache[key] = rules_for(info, relation)
        return hit

    def _signature(self, ev: Evidence) -> tuple[Any, ...]:
        """Everything a built-in check reads from a model, except its card and name."""
        key = ev._key
        if key is not None:  # precomputed by gather(); license files and the card are added here
            return (key, tuple(ev.license_files) if ev.license_files else (), ev.card is None)
        sig = self._sigs.get(ev.id)
        if sig is None:
            lf, nf, pf = ev.file_classes()
            sig = (tuple(ev.licenses), ev.license_name, ev.license_link, ev.identified_license, ev.identified_source,
                   tuple(ev.license_files), ev.files is None, tuple(lf), tuple(nf), tuple(pf), ev.card is None)
            self._sigs[ev.id] = sig
        return sig

    def _plugin_family(self, name: str) -> Family:
        fam = self._families.get(name)
        if fam is None:
            fam = self._families[name] = Family(name, name)
        return fam

    def evaluate(self, model_id: str, relation: str) -> list[dict[str, Any]]:
        """The rule results (dicts) for one model; see :meth:`_evaluate_rules` for the memo."""
        ev = self.evidence[model_id]
        if not ev.in_store:
            return [RuleResult("lineage/model-in-store", CANNOT_TELL,
                               f"{model_id} is named as a derivative but has no record in the store", [],
                               None, None, "The derivative's metadata is known").to_dict()]
        gov = self.governing(model_id)
        rel = relation if relation in ("finetune", "adapter", "quantized", "merge") else "unknown"
        results = self._evaluate_rules(ev, gov, rel) if gov else []
        if not gov:
            for p, _ in self.graph.parents.get(model_id, ()):
                pev = self.evidence.get(p)
                if pev is None or not pev.in_store:
                    results.append(RuleResult("lineage/base-known", CANNOT_TELL,
                                              f"base {p} is not in the store, so its license obligations are unknown",
                                              [{"source": "base_model", "value": p}], p, None,
                                              "The base model's license is known").to_dict())
                elif not pev.licenses and not pev.license_name and not pev.identified_license \
                        and not self._ancestry([p]):
                    results.append(RuleResult("lineage/base-license-known", CANNOT_TELL,
                                              f"base {p} declares no license, so its obligations are unknown",
                                              [{"source": "base_model", "value": p}], p, None,
                                              "The base model's license is known").to_dict())
        return results

    def _plan(self, gov: dict[str, "_Governing"], rel: str) -> list[tuple[Any, "_Governing", Family]]:
        """The (rule, governing base, family) triples that apply; cached per governing set and relation."""
        fast = self._plan_by_gov.get((id(gov), rel))
        if fast is not None:
            return fast
        key = (tuple((lic, gov[lic].ancestor) for lic in sorted(gov)), rel)
        plan = self._plans.get(key)
        if plan is None:
            plan = []
            for lic in sorted(gov):
                g = gov[lic]
                for rule in self._rules_for(g.info, rel):
                    family = rule.family if isinstance(getattr(rule, "family", None), Family) else \
                        self._plugin_family(str(getattr(rule, "family", "plugin")))
                    plan.append((rule, g, family))
            self._plans[key] = plan
        self._plan_by_gov[(id(gov), rel)] = plan
        return plan

    def _evaluate_rules(self, ev: Evidence, gov: dict[str, "_Governing"], rel: str) -> list[dict[str, Any]]:
        """Evaluate every applicable rule. Results are memoised per model *signature* (everything a
        built-in check reads except the card and the name) together with the answers the card gave
        to the checks' phrase queries: a later model with the same signature whose card answers
        those queries the same way gets the same verdicts and reasons, with quotes re-cut from its
        own card. Exact, since a check is a deterministic function of exactly that input. Rules
        that read the name (naming) and plugin rules are always evaluated."""
        plan = self._plan(gov, rel)
        key = (id(plan), self._signature(ev))
        variants = self._memo.get(key)
        if variants:
            for log, templates, slots, static in variants:
                if _replays(ev, log):
                    if static:  # no card quotes to re-cut, no rule to run again: share the rule dicts
                        return list(templates)  # type: ignore[arg-type]
                    return self._instantiate(ev, plan, rel, templates, slots)
        declared = [classify(t) for t in ev.licenses]
        contexts: dict[tuple[int, int], Context] = {}
        templates: list[dict[str, Any] | None] = []
        slots: list[tuple[int, int, str, bool]] = []
        union: dict[tuple[int, bool], tuple[Any, bool, str | None]] = {}
        for i, (rule, g, family) in enumerate(plan):
            ctx = contexts.get((id(g), id(family)))
            if ctx is None:
                ctx = contexts[(id(g), id(family))] = Context(ev, rel, g.ancestor, g.info, family, declared)
            ctx.log = []
            res = rule.evaluate(ctx)
            if not isinstance(res, RuleResult):
                res = RuleResult(**dict(res))
            d = res.to_dict()
            memo_ok = isinstance(rule, Rule) and rule.check not in _UNMEMOISED
            templates.append(d if memo_ok else None)
            for pattern, body_only, outcome, e in ctx.log:
                union[(id(pattern), body_only)] = (pattern, body_only, outcome)
                if memo_ok and e is not None:
                    for j, item in enumerate(d["evidence"]):
                        if item is e:
                            slots.append((i, j, outcome, body_only))  # type: ignore[arg-type]
        variants = self._memo.setdefault(key, [])
        if len(variants) < _MAX_VARIANTS:
            variants.append((list(union.values()), templates, slots, not slots and None not in templates))
        return self._instantiate(ev, plan, rel, templates, slots, fresh=True)

    def _instantiate(self, ev: Evidence, plan: list[Any], rel: str, templates: list[dict[str, Any] | None],
                     slots: list[tuple[int, int, str, bool]], fresh: bool = False) -> list[dict[str, Any]]:
        """Results for ``ev`` from memoised templates: rule dicts without card quotes are shared
        (read-only), those with quotes are copied and re-cut from this model's card."""
        out: list[dict[str, Any]] = []
        for i, tpl in enumerate(templates):
            if tpl is None:
                rule, g, family = plan[i]
                ctx = Context(ev, rel, g.ancestor, g.info, family)
                res = rule.evaluate(ctx)
                if not isinstance(res, RuleResult):
                    res = RuleResult(**dict(res))
                out.append(res.to_dict())
            else:
                out.append(tpl)
        if not fresh and slots:
            copied: set[int] = set()
            for i, j, phrase, body_only in slots:
                if i not in copied:
                    out[i] = dict(out[i])
                    out[i]["evidence"] = list(out[i]["evidence"])
                    copied.add(i)
                hay = ev.card_body if body_only else ev.card_norm
                k = hay.find(phrase)
                out[i]["evidence"][j] = {"source": "card", "quote": _excerpt(hay, k, k + len(phrase))}
        return out

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
            "verdict": _worst(results),
            "rules": results,
        }


def _edge_drift(edges: list[tuple[str, str, str]], evidence: dict[str, Evidence]) -> dict[str, Any]:
    """Mutation rate and direction per relation over edges whose two license sets are known."""
    pairs: Counter[tuple[str, tuple[str, ...], tuple[str, ...]]] = Counter()
    for child, parent, rel in edges:
        ce, pe = evidence.get(child), evidence.get(parent)
        if ce is None or pe is None or not ce.licenses or not pe.licenses:
            continue
        pairs[(rel, tuple(pe.licenses), tuple(ce.licenses))] += 1
    return _drift_of_pairs(pairs)


def _child_edge_drift(children: list[str], parents: dict[str, list[tuple[str, str]]],
                      evidence: dict[str, Evidence]) -> dict[str, Any]:
    """:func:`_edge_drift` over every (child, parent) edge of ``children``, without listing the edges."""
    # license lists are shared between models (see gather): count by list identity, then by value
    by_id: Counter[tuple[str, int, int]] = Counter()
    lists: dict[int, list[str]] = {}
    get = evidence.get
    for child in children:
        ce = get(child)
        if ce is None or not ce.licenses:
            continue
        cl = ce.licenses
        for parent, rel in parents.get(child, ()):
            pe = get(parent)
            if pe is None or not pe.licenses:
                continue
            pl = pe.licenses
            by_id[(rel, id(pl), id(cl))] += 1
            lists[id(pl)] = pl
        lists[id(cl)] = cl
    pairs: Counter[tuple[str, tuple[str, ...], tuple[str, ...]]] = Counter()
    for (rel, p, c), n in by_id.items():
        pairs[(rel, tuple(lists[p]), tuple(lists[c]))] += n
    return _drift_of_pairs(pairs)


def _drift_of_pairs(pairs: Counter[tuple[str, tuple[str, ...], tuple[str, ...]]]) -> dict[str, Any]:
    per: dict[str, dict[str, Any]] = {}
    total_n, total_m = 0, 0.0
    for (rel, pl, cl), n in pairs.items():
        m = mutation(pl, cl)
        d = per.setdefault(rel, {"edges": 0, "mutated": 0, "mutation_rate": 0.0, "direction": Counter()})
        d["edges"] += n
        d["mutated"] += n if m > 0 else 0
        d["mutation_rate"] += m * n
        d["direction"][direction(set_category(pl), set_category(cl)) if m > 0 else "unchanged"] += n
        total_n += n
        total_m += m * n
    out = {}
    for rel, d in sorted(per.items()):
        out[rel] = {"edges": d["edges"], "mutated": d["mutated"],
                    "mutation_rate": round(d["mutation_rate"] / d["edges"], 4) if d["edges"] else None,
                    "direction": dict(sorted(d["direction"].items()))}
    return {"edges": total_n, "mutation_rate": round(total_m / total_n, 4) if total_n else None, "per_relation": out}


@contextlib.contextmanager
def no_gc():
    """Pause the cyclic garbage collector while building large reports (hundreds of thousands of
    small containers, no reference cycles): it would otherwise rescan them over and over. Plain
    reference counting still frees memory; the collector is restored afterwards.

    On the way out the objects made meanwhile (the report) are promoted to the oldest
    generation (``gc.freeze()`` then ``gc.unfreeze()``: two list splices, no scan), so the
    first young-generation collection after re-enabling does not walk the whole report; full
    collections still see them. Skipped when the caller keeps objects frozen."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


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
    with no_gc():
        return _audit(con, model_id, descendants, max_depth, graph, auditor)


def _audit(con: duckdb.DuckDBPyConnection, model_id: str, descendants: bool, max_depth: int | None,
           graph: LineageGraph | None, auditor: "Auditor | None") -> dict[str, Any]:
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
    # every ancestor of a target: the targets' parents, and the ancestors of those that are not
    # targets themselves (a target's own ancestors are reached through its parents)
    parents = g.parents
    targets = set(target_ids)
    outside = {p for t in target_ids for p, _ in parents.get(t, ()) if p not in targets}
    aud._load([model_id, *outside, *aud._ancestry(outside)], with_cards=False)
    derivatives = [aud.entry(n) for n in nodes]

    verdicts = Counter(map(itemgetter("verdict"), derivatives))
    per_rule: dict[str, Counter[str]] = defaultdict(Counter)
    # derivatives share their rule dicts (see Auditor): count each distinct list of them once
    rule_lists = list(map(itemgetter("rules"), derivatives))
    keys = list(map(tuple, map(partial(map, id), rule_lists)))
    sample = dict(zip(keys, rule_lists))
    for key, n in Counter(keys).items():
        for r in sample[key]:
            per_rule[r["rule"]][r["verdict"]] += n
    summary = {
        "derivatives": len(derivatives),
        "verdicts": {v: verdicts.get(v, 0) for v in VERDICTS},
        "rules": {k: {v: c.get(v, 0) for v in VERDICTS} for k, c in sorted(per_rule.items())},
        "drift": _child_edge_drift(target_ids, parents, aud.evidence),
        "relations": dict(sorted(Counter(map(itemgetter("relation"), derivatives)).items())),
        "missing": len(derivatives) - sum(map(itemgetter("in_store"), derivatives)),
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
