"""Audit reports as CSV (one row per derivative and rule), as compact JSON and as a standalone HTML page."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import jinja2

_CSV_FIELDS = ["id", "relation", "depth", "declared_license", "verdict", "rule", "rule_verdict", "base",
               "license", "reason", "evidence"]


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not evaluate as a formula."""
    s = "" if value is None else str(value)
    if s[:1] in ("=", "+", "-", "@", "\t", "\r"):
        s = "'" + s
    return s


def audit_csv(report: dict[str, Any]) -> str:
    """One row per (derivative, rule); a derivative without rules gets one row with empty rule."""
    from .audit import no_gc

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_CSV_FIELDS)
    tails: dict[int, list[str]] = {}  # rule results are often shared between derivatives: format once
    with no_gc():
        for d in report["derivatives"]:
            head = [_cell(d["id"]), d["relation"], d["depth"], _cell(d["declared_license"]), d["verdict"]]
            if not d["rules"]:
                w.writerow(head + ["", "", "", "", "", ""])
            for r in d["rules"]:
                tail = tails.get(id(r))
                if tail is None:
                    tail = tails[id(r)] = [_cell(r["rule"]), r["verdict"], _cell(r.get("base")), _cell(r.get("license")),
                                           _cell(r["reason"]), _cell(json.dumps(r["evidence"], ensure_ascii=False))]
                w.writerow(head + tail)
    return buf.getvalue()


_RULES_SLOT = re.compile(r'"rules":(\d+)')


def audit_json(report: dict[str, Any]) -> str:
    """The report as compact JSON: the same text as ``json.dumps(report, ensure_ascii=False,
    separators=(",", ":"))``, built about twice as fast for large audits.

    Most derivatives share their rule dicts (see ``Auditor``), so each distinct list of rule
    dicts is encoded once. The derivatives are encoded in one pass of the C encoder with
    each ``rules`` list replaced by its index, and the rule texts are then put in those
    slots (``"rules":`` never occurs inside a JSON string, where every quote is escaped;
    should another key ``rules`` hold a number, the slots would not count 0, 1, 2 ... and
    the report is encoded by ``json.dumps`` instead).
    """
    from .audit import no_gc

    with no_gc():
        return _audit_json(report)


def _audit_json(report: dict[str, Any]) -> str:
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    ders = report.get("derivatives") if isinstance(report, dict) else None
    if not isinstance(ders, list) or not all(d.__class__ is dict and d.get("rules").__class__ is list for d in ders):
        return encode(report)
    # every derivative with its rules replaced by its index (same key position), in one C pass
    pieces = _RULES_SLOT.split(encode([{**d, "rules": i} for i, d in enumerate(ders)]))
    # pieces: text, index, text, index, ... text: the indices must be exactly 0, 1, 2 ...
    if pieces[1::2] != list(map(str, range(len(ders)))):
        return encode(report)
    texts: dict[tuple[int, ...], str] = {}  # ids are stable: the report keeps the dicts alive
    filled = []
    for d in ders:
        rules = d["rules"]
        key = tuple(map(id, rules))
        t = texts.get(key)
        if t is None:
            t = texts[key] = '"rules":' + encode(rules)
        filled.append(t)
    pieces[1::2] = filled
    out = ["{"]
    for n, (k, v) in enumerate(report.items()):
        out.append(("," if n else "") + encode(k) + ":")
        if k == "derivatives":
            out.extend(pieces)
        else:
            out.append(encode(v))
    out.append("}")
    return "".join(out)  # one copy of the text


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>railtrack audit: {{ r.model }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;vertical-align:top;text-align:left}
.violation{color:#a00;font-weight:bold}.cannot-tell{color:#a60}.compliant{color:#070}
details{margin:.25rem 0}code{font-size:90%}
</style></head><body>
<h1>Audit of {{ r.model }}</h1>
<p>Declared license: <code>{{ r.base.declared_license }}</code>.
Obligations checked: {% for o in r.base.obligations %}<code>{{ o }}</code>{% if not loop.last %}, {% endif %}{% else %}none{% endfor %}.
{{ r.summary.derivatives }} {{ "descendants" if r.descendants else "model" }} audited at {{ r.generated_at }}.</p>
<h2>Summary</h2>
<table><tr><th>verdict</th><th>models</th></tr>
{% for v, n in r.summary.verdicts.items() %}<tr><td class="{{ v }}">{{ v }}</td><td>{{ n }}</td></tr>{% endfor %}
</table>
<table><tr><th>rule</th><th>compliant</th><th>cannot-tell</th><th>violation</th></tr>
{% for rule, c in r.summary.rules.items() %}<tr><td>{{ rule }}</td><td>{{ c["compliant"] }}</td><td>{{ c["cannot-tell"] }}</td><td>{{ c["violation"] }}</td></tr>{% endfor %}
</table>
<h3>License drift</h3>
<p>{{ r.summary.drift.edges }} edges with both license sets known; mutation rate {{ r.summary.drift.mutation_rate }}.</p>
<table><tr><th>relation</th><th>edges</th><th>mutated</th><th>mutation rate</th><th>direction</th></tr>
{% for rel, d in r.summary.drift.per_relation.items() %}<tr><td>{{ rel }}</td><td>{{ d.edges }}</td><td>{{ d.mutated }}</td><td>{{ d.mutation_rate }}</td>
<td>{% for k, n in d.direction.items() %}{{ k }}: {{ n }}{% if not loop.last %}, {% endif %}{% endfor %}</td></tr>{% endfor %}
</table>
<h2>Derivatives</h2>
<table><tr><th>model</th><th>relation</th><th>depth</th><th>declared license</th><th>verdict</th><th>rules</th></tr>
{% for d in r.derivatives %}<tr><td>{{ d.id }}</td><td>{{ d.relation }}</td><td>{{ d.depth }}</td><td><code>{{ d.declared_license }}</code></td>
<td class="{{ d.verdict }}">{{ d.verdict }}</td><td>{% for x in d.rules %}<details><summary><span class="{{ x.verdict }}">{{ x.verdict }}</span> {{ x.rule }}</summary>
<p>{{ x.reason }}</p>{% for e in x.evidence %}<div><code>{{ e | tojson }}</code></div>{% endfor %}</details>{% endfor %}</td></tr>
{% endfor %}</table>
<p>Generated by railtrack. Verdicts read the store's metadata (declared license, file listing, card text);
they are evidence for a review, not legal advice.</p>
</body></html>
"""


def audit_html(report: dict[str, Any]) -> str:
    """A standalone HTML page; every value is HTML-escaped (Jinja2 autoescape)."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_HTML).render(r=report)


def drift_csv(report: dict[str, Any]) -> str:
    """The (parent license -> child license) transitions of a drift report as CSV."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["parent", "child", "edges", "direction"])
    for t in report["top_transitions"]:
        w.writerow([_cell(t["parent"]), _cell(t["child"]), t["edges"], t["direction"]])
    return buf.getvalue()


def drift_text(report: dict[str, Any]) -> list[str]:
    """Human-readable lines of a drift report (no markup)."""
    lines = [f"{report['edges']} parent->child edges with both licenses known; {report['mutated']} mutated; "
             f"mutation rate {report['mutation_rate']}"]
    if report["direction"]:
        lines.append("direction of mutated edges: " + ", ".join(f"{k} {n}" for k, n in report["direction"].items()))
    for rel, d in report["per_relation"].items():
        dirs = ", ".join(f"{k} {n}" for k, n in d["direction"].items())
        lines.append(f"  {rel}: {d['edges']} edges, mutation rate {d['mutation_rate']}" + (f" ({dirs})" if dirs else ""))
    r = report["behavioral_use_retention"]
    share = "n/a" if r["share_keep"] is None else f"{100 * r['share_keep']:.1f}%"
    same = "n/a" if r["share_same_license"] is None else f"{100 * r['share_same_license']:.1f}%"
    lines.append(f"derivatives of behavioral-use bases: {r['derivatives']} ({r['with_known_license']} with a known license); "
                 f"{share} keep use restrictions, {same} keep the same license")
    if report["top_transitions"]:
        lines.append("top transitions (parent -> child: edges, direction):")
        for t in report["top_transitions"]:
            lines.append(f"  {t['parent']} -> {t['child']}: {t['edges']} ({t['direction']})")
    return lines
