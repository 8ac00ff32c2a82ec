"""Obligation rules: data-driven, one YAML file per license family in ``adherence/rules/``.

A rule file names the base licenses it governs (``applies_to``: license ids, registry
families, or registry obligation flags), the derivative licenses that carry its
restrictions (``carries``), phrases and links that show its text or a reference to it
(``markers``), and its rules. Each rule names a *check* (one of :data:`CHECKS`), the
registry obligation that switches it on (``when``; read from the base license's registry
entry, so the registry decides which obligations a license has), the relations it applies
to, and optional parameters. Every result is ``compliant``, ``violation`` or
``cannot-tell`` with a reason and the evidence quoted.

Plugins add rules through the ``railtrack_obligation_rules`` hook: YAML paths, dicts with
the same layout as a rule file, or :class:`Rule` objects (anything with ``id``, ``family``,
``applies(base)`` and ``evaluate(ctx)``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

import yaml

from ..errors import InputError
from .evidence import Evidence, normalize_text
from .licenses import LicenseInfo, classify, license_markers

COMPLIANT, VIOLATION, CANNOT_TELL = "compliant", "violation", "cannot-tell"
VERDICTS = (COMPLIANT, CANNOT_TELL, VIOLATION)
_SEVERITY = {COMPLIANT: 0, CANNOT_TELL: 1, VIOLATION: 2}
ALL_RELATIONS = ("finetune", "adapter", "quantized", "merge", "unknown")


def worst(verdicts: Iterable[str]) -> str:
    """The most severe verdict (violation > cannot-tell > compliant); compliant when empty."""
    best = COMPLIANT
    for v in verdicts:
        if _SEVERITY[v] > _SEVERITY[best]:
            best = v
    return best


@dataclass
class RuleResult:
    rule: str
    verdict: str
    reason: str
    evidence: list[dict[str, Any]]
    base: str | None = None
    license: str | None = None
    title: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "verdict": self.verdict, "reason": self.reason, "evidence": self.evidence,
                "base": self.base, "license": self.license, "title": self.title}


@dataclass
class Family:
    """The shared data of one rule file: which bases it governs and how to recognise its text."""

    family: str
    title: str
    licenses: frozenset[str] = frozenset()
    families: frozenset[str] = frozenset()
    obligations: frozenset[str] = frozenset()
    carries_licenses: frozenset[str] = frozenset()
    carries_families: frozenset[str] = frozenset()
    carries_generated: bool = False
    names: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    source: str = "built-in"
    fallback: bool = False

    def governs(self, base: LicenseInfo) -> bool:
        if base.id in self.licenses:
            return True
        if base.family and base.family in self.families:
            return True
        return any(base.obligations.get(o) or getattr(base, o, False) is True for o in self.obligations)

    def carries(self, lic: LicenseInfo, base: LicenseInfo) -> bool:
        """Whether a derivative under ``lic`` carries the restrictions of ``base``."""
        if lic.id == base.id:
            return True
        if lic.id in self.carries_licenses:
            return True
        if self.carries_generated and lic.source == "generated":
            return True
        return bool(lic.family and lic.family in self.carries_families and lic.behavioral_use)


class RuleLike(Protocol):  # pragma: no cover - typing only
    id: str
    family: str

    def applies(self, base: LicenseInfo, relation: str) -> bool: ...

    def evaluate(self, ctx: "Context") -> RuleResult: ...


_MATCHERS: dict[tuple[int, str], tuple[tuple[str, ...], tuple[str, ...], "re.Pattern[str] | None", "re.Pattern[str] | None"]] = {}


# compiled alternations of a few phrases -> the phrases: a search with none of them in the text
# has no match, and a few `in` tests (C substring search) are faster than the regex scan
PREFILTER: dict["re.Pattern[str]", tuple[str, ...]] = {}
_PREFILTER_MAX = 4


def _alternation(phrases: Iterable[str]) -> "re.Pattern[str] | None":
    phrases = [p for p in phrases if p]
    if not phrases:
        return None
    # longest first, so that the quoted match is the most specific phrase
    ordered = sorted(set(phrases), key=len, reverse=True)
    rx = re.compile("|".join(re.escape(p) for p in ordered))
    if len(ordered) <= _PREFILTER_MAX:
        PREFILTER[rx] = tuple(ordered)
    return rx


def search_phrases(rx: "re.Pattern[str]", hay: str) -> "re.Match[str] | None":
    """``rx.search(hay)`` for an alternation of literal phrases, skipping the scan when no
    phrase occurs in ``hay`` (same result: the pattern matches iff one of them occurs)."""
    phrases = PREFILTER.get(rx)
    if phrases is not None:
        for p in phrases:
            if p in hay:
                return rx.search(hay)
        return None
    return rx.search(hay)


def _matchers(family: Family, base_id: str):
    """(names, links, text regex, names-or-links regex) for a family and a base license; cached."""
    key = (id(family), base_id)
    hit = _MATCHERS.get(key)
    if hit is None:
        reg_names, reg_links = license_markers(base_id)
        names = tuple(dict.fromkeys((*family.names, *reg_names)))
        links = tuple(dict.fromkeys((*family.links, *reg_links)))
        hit = (names, links, _alternation(family.text), _alternation((*names, *links)))
        _MATCHERS[key] = hit
    return hit


def _excerpt(hay: str, i: int, j: int, width: int = 80) -> str:
    start = max(0, i - width // 2)
    end = min(len(hay), j + width // 2)
    return ("..." if start else "") + hay[start:end].strip() + ("..." if end < len(hay) else "")


class Context:
    """What a rule sees: the derivative, its relation, the governing base and its license.

    One context serves every rule of a family for one derivative, so the shared evidence
    (references to the base license, the pasted text, declared licenses that carry it) is
    computed once.
    """

    __slots__ = ("model", "relation", "base_id", "base", "family", "declared", "_carrying", "_text", "_refs",
                 "log", "_text_log", "_refs_log")

    def __init__(self, model: Evidence, relation: str, base_id: str, base: LicenseInfo, family: Family,
                 declared: list[LicenseInfo] | None = None) -> None:
        self.model = model
        self.relation = relation
        self.base_id = base_id
        self.base = base
        self.family = family
        self.declared = declared if declared is not None else [classify(t) for t in model.licenses]
        self._carrying: list[LicenseInfo] | None = None
        self._text: Any = False
        self._refs: list[dict[str, Any]] | None = None
        # card queries made while evaluating the current rule: (pattern, body_only, outcome, evidence
        # dict or None); lets an audit reuse a rule's result for another model whose card answers
        # the same queries the same way (see Auditor)
        self.log: list[tuple[Any, bool, str | None, dict[str, Any] | None]] = []
        self._text_log: list[Any] = []
        self._refs_log: list[Any] = []

    # -- card queries (logged) -------------------------------------------------------------
    def _hay(self, body_only: bool) -> str:
        return self.model.card_body if body_only else self.model.card_norm

    def find(self, phrase: str, body_only: bool = False) -> dict[str, Any] | None:
        """Evidence ``{"source": "card", "quote": ...}`` when the normalised card contains ``phrase``."""
        hay = self._hay(body_only) if self.model.card else ""
        i = hay.find(phrase) if hay else -1
        ev = None
        if i >= 0:
            ev = {"source": "card", "quote": _excerpt(hay, i, i + len(phrase))}
        self.log.append((phrase, body_only, phrase if ev else None, ev))
        return ev

    def search(self, rx: "re.Pattern[str]", body_only: bool = False) -> dict[str, Any] | None:
        """Like :meth:`find` for the first match of a compiled alternation of phrases."""
        hay = self._hay(body_only) if self.model.card else ""
        m = search_phrases(rx, hay) if hay else None
        ev = {"source": "card", "quote": _excerpt(hay, m.start(), m.end())} if m else None
        self.log.append((rx, body_only, m.group(0) if m else None, ev))
        return ev

    @classmethod
    def build(cls, model: Evidence, relation: str, base_id: str, base: LicenseInfo, family: Family) -> "Context":
        return cls(model, relation, base_id, base, family)

    # -- shared evidence helpers -----------------------------------------------------------
    def carrying_declared(self) -> list[LicenseInfo]:
        """Declared licenses of the derivative that carry the base license's restrictions."""
        if self._carrying is None:
            self._carrying = [d for d in self.declared if self.family.carries(d, self.base)]
        return self._carrying

    def name_markers(self) -> tuple[str, ...]:
        return _matchers(self.family, self.base.id)[0]

    def link_markers(self) -> tuple[str, ...]:
        return _matchers(self.family, self.base.id)[1]

    def text_in_card(self) -> dict[str, Any] | None:
        """The license text itself pasted into the card (a distinctive phrase of it)."""
        if self._text is False:
            self._text = None
            rx = _matchers(self.family, self.base.id)[2]
            if rx is not None and self.model.card:
                mark = len(self.log)
                self._text = self.search(rx)
                self._text_log = self.log[mark:]
        else:
            self.log.extend(self._text_log)
        return self._text

    def references(self) -> list[dict[str, Any]]:
        """Places where the derivative refers to the base license: metadata, identified text, card."""
        if self._refs is not None:
            self.log.extend(self._refs_log)
            return self._refs
        mark = len(self.log)
        ev: list[dict[str, Any]] = []
        m = self.model
        names, links, _, either = _matchers(self.family, self.base.id)
        if m.license_name:
            ln = normalize_text(m.license_name)
            info = classify(ln)
            if self.family.carries(info, self.base) or any(n in ln for n in names) or ln == self.base.id:
                ev.append({"source": "license_name", "value": m.license_name})
        if m.license_link:
            ll = m.license_link.lower()
            if any(link in ll for link in links):
                ev.append({"source": "license_link", "value": m.license_link})
        if m.identified_license and self.family.carries(classify(m.identified_license), self.base):
            ev.append({"source": "identified_license", "value": m.identified_license,
                       "from": m.identified_source})
        for path, ident in m.license_files:
            if ident and self.family.carries(classify(ident), self.base):
                ev.append({"source": "license_file", "path": path, "identified": ident})
        text = self.text_in_card()
        if text:
            ev.append(text)
        elif either is not None and m.card:
            hit = self.search(either, body_only=True)
            if hit:
                ev.append(hit)
        self._refs = ev
        self._refs_log = self.log[mark:]
        return ev


def _declared_ev(ctx: Context) -> dict[str, Any]:
    return {"source": "declared_license", "value": ctx.model.declared}


def _files_ev(files: list[str]) -> dict[str, Any]:
    return {"source": "files", "value": files}


# -- checks ---------------------------------------------------------------------------------
def check_passthrough(ctx: Context, params: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """The use restrictions travel with the derivative: it is released under a license that
    includes them (the base license, or one the rule file lists as carrying them), or its
    license text / card embeds or references the base license."""
    m, base = ctx.model, ctx.base
    carrying = ctx.carrying_declared()
    if carrying:
        return COMPLIANT, f"declares {carrying[0].id}, which carries the use restrictions of {base.id}", [_declared_ev(ctx)]
    refs = ctx.references()
    named = [d for d in ctx.declared if d.known]
    other_bu = [d for d in named if d.behavioral_use]
    free = [d for d in named if not d.behavioral_use]
    if other_bu:
        return (CANNOT_TELL, f"declares {other_bu[0].id}, a different behavioral-use license; whether it includes "
                f"every use restriction of {base.id} is not established", [_declared_ev(ctx), *refs])
    if free:
        if refs:
            return (CANNOT_TELL, f"declares {free[0].id}, which has no use restrictions, but the repository also refers "
                    f"to the {base.id} license: the declared license contradicts it", [_declared_ev(ctx), *refs])
        return (VIOLATION, f"declares {free[0].id}, a license without the use restrictions of {base.id}, and nothing "
                f"in the card or license files carries them", [_declared_ev(ctx)])
    # nothing (or only a placeholder such as `other`) declared
    if refs:
        return COMPLIANT, f"refers to the {base.id} license ({refs[0]['source']})", [_declared_ev(ctx), *refs]
    if m.files is None:
        return (CANNOT_TELL, f"declares {m.declared}; the repository file listing is unknown, so a license text "
                f"carrying the {base.id} restrictions may exist", [_declared_ev(ctx)])
    lic_files = m.file_classes()[0]
    if lic_files:
        return (CANNOT_TELL, f"declares {m.declared}; {lic_files[0]} is present but its text was not identified",
                [_declared_ev(ctx), _files_ev(lic_files)])
    if m.card is None:
        return (CANNOT_TELL, f"declares {m.declared}, has no license file, and its card is not in the store",
                [_declared_ev(ctx), _files_ev([])])
    return (VIOLATION, f"declares {m.declared}, has no license file, and its card does not refer to the {base.id} "
            f"license: the use restrictions do not travel with the derivative",
            [_declared_ev(ctx), {"source": "files", "value": "no LICENSE file"}])


def check_copy_of_license(ctx: Context, params: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """A copy of the base license accompanies the derivative: a license file in the repository
    (identified as the base license, or unidentified in a repository that declares it), or the
    text pasted into the card. A link alone is not a copy."""
    m, base = ctx.model, ctx.base
    for path, ident in m.license_files:
        if ident and ctx.family.carries(classify(ident), base):
            return (COMPLIANT, f"{path} is the {ident} text",
                    [{"source": "license_file", "path": path, "identified": ident}])
    text = ctx.text_in_card()
    if text:
        return COMPLIANT, f"the card contains the {base.id} license text", [text]
    if m.identified_license and ctx.family.carries(classify(m.identified_license), base) \
            and (m.identified_source or "").lower() not in ("card", "declared", ""):
        return (COMPLIANT, f"the license text in {m.identified_source} was identified as {m.identified_license}",
                [{"source": "identified_license", "value": m.identified_license, "from": m.identified_source}])
    if m.files is None:
        return CANNOT_TELL, "the repository file listing is unknown", [_declared_ev(ctx)]
    lic_files = m.file_classes()[0]
    identified_other = [(p, i) for p, i in m.license_files if i and not ctx.family.carries(classify(i), base)]
    if lic_files:
        if identified_other and len(identified_other) >= len(lic_files):
            p, i = identified_other[0]
            return (VIOLATION, f"the only license text, {p}, is {i}, not a copy of the {base.id} license",
                    [{"source": "license_file", "path": p, "identified": i}])
        if ctx.carrying_declared():
            return (COMPLIANT, f"{lic_files[0]} is present and the repository declares "
                    f"{ctx.carrying_declared()[0].id} (file text not inspected)",
                    [_files_ev(lic_files), _declared_ev(ctx)])
        named_free = [d for d in ctx.declared if d.known and not d.behavioral_use]
        refs = ctx.references()
        if refs and not named_free:
            return (COMPLIANT, f"{lic_files[0]} is present and the repository refers to the {base.id} license "
                    f"(file text not inspected)", [_files_ev(lic_files), *refs])
        return (CANNOT_TELL, f"{lic_files[0]} is present but its text was not identified and the repository "
                f"declares {m.declared}", [_files_ev(lic_files), _declared_ev(ctx)])
    links = [r for r in ctx.references() if r["source"] in ("license_link", "card")]
    if links:
        return (CANNOT_TELL, f"no license file; the repository links or refers to the {base.id} license but "
                f"carries no copy of it", [{"source": "files", "value": "no LICENSE file"}, *links])
    carrying = ctx.carrying_declared()
    if carrying:
        return (VIOLATION, f"declares {carrying[0].id} but ships no copy of it: no license file in the repository "
                f"and no license text in the card (a license tag is a link, not a copy)",
                [_declared_ev(ctx), {"source": "files", "value": "no LICENSE file"}])
    return (VIOLATION, f"no license file in the repository and no {base.id} license text in the card",
            [{"source": "files", "value": "no LICENSE file"}])


def check_policy(ctx: Context, params: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """The acceptable-use / prohibited-use policy is passed on: a policy file in the repository,
    the card refers to it, or the derivative is under the base license (which incorporates it)."""
    m, base = ctx.model, ctx.base
    label = params.get("label", "acceptable-use policy")
    files = m.file_classes()[2]
    if files:
        return COMPLIANT, f"{files[0]} is in the repository", [_files_ev(files)]
    markers = tuple(params.get("markers", ()))
    if markers:
        q = ctx.search(_phrases_rx(markers))
        if q:
            return COMPLIANT, f"the card refers to the {label}", [q]
    carrying = ctx.carrying_declared()
    if carrying:
        return (COMPLIANT, f"declares {carrying[0].id}, which incorporates the {label} by reference",
                [_declared_ev(ctx)])
    free = [d for d in ctx.declared if d.known and not d.behavioral_use]
    refs = ctx.references()
    if refs:
        return (COMPLIANT if not free else CANNOT_TELL,
                f"refers to the {base.id} license, which incorporates the {label}" if not free else
                f"declares {free[0].id} but refers to the {base.id} license; the {label} is not passed on explicitly",
                [_declared_ev(ctx), *refs])
    if free:
        return (VIOLATION, f"declares {free[0].id} and neither ships nor mentions the {label}", [_declared_ev(ctx)])
    if m.files is None or m.card is None:
        return CANNOT_TELL, f"declares {m.declared}; file listing or card unknown", [_declared_ev(ctx)]
    return (VIOLATION, f"declares {m.declared}; no policy file, and the card does not mention the {label}",
            [_declared_ev(ctx), {"source": "files", "value": "no policy file"}])


@functools.lru_cache(maxsize=1024)
def _norm_phrase(phrase: str) -> str:
    return normalize_text(phrase)


@functools.lru_cache(maxsize=256)
def _phrases_rx(phrases: tuple[str, ...]) -> "re.Pattern[str]":
    """One compiled alternation of normalised phrases (searched in a single pass)."""
    rx = _alternation(_norm_phrase(p) for p in phrases)
    assert rx is not None
    return rx


def _notice_text(ctx: Context, params: dict[str, Any]) -> str | None:
    return params.get("notice") or ctx.base.obligations.get("notice_text")


@functools.lru_cache(maxsize=256)
def _notice_key(notice: str) -> str:
    """The distinctive part of a notice: up to the copyright line, normalised."""
    n = normalize_text(notice)
    for cut in (", copyright", " copyright"):
        if cut in n:
            n = n.split(cut)[0]
    return n.strip(" .\"")


def check_notice(ctx: Context, params: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """The base license's notice is retained: a NOTICE file, the notice sentence in the card,
    or a copy of the license text (which quotes the notice) when ``in_license_text`` is set."""
    m = ctx.model
    notice = _notice_text(ctx, params)
    if not notice:
        return CANNOT_TELL, "the registry records no notice text for this license", []
    key = _notice_key(notice)
    q = ctx.find(key)
    if q:
        return COMPLIANT, "the card carries the notice", [q]
    files = m.file_classes()[1]
    if files:
        return COMPLIANT, f"{files[0]} is in the repository", [_files_ev(files)]
    if params.get("in_license_text", True):
        verdict, reason, ev = check_copy_of_license(ctx, {})
        if verdict == COMPLIANT:
            return COMPLIANT, f"the notice sentence is part of the license text: {reason}", ev
    if m.files is None:
        return CANNOT_TELL, "the repository file listing is unknown and the card lacks the notice", \
            [{"source": "notice", "value": notice}]
    if m.card is None:
        return CANNOT_TELL, "no NOTICE file and the card is not in the store", [{"source": "notice", "value": notice}]
    lic_files = m.file_classes()[0]
    if lic_files:
        return (CANNOT_TELL, f"no NOTICE file and the card lacks the notice; {lic_files[0]} may carry it",
                [_files_ev(lic_files), {"source": "notice", "value": notice}])
    return (VIOLATION, "no NOTICE file, no license text, and the card does not carry the notice",
            [{"source": "notice", "value": notice}, {"source": "files", "value": "no NOTICE file"}])


def check_attribution(ctx: Context, params: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """The attribution phrase (e.g. "Built with Llama") is displayed in the model card, the
    documentation a Hub user sees."""
    phrase = params.get("text") or ctx.base.obligations.get("attribution_text")
    if not phrase:
        return CANNOT_TELL, "the registry records no attribution text for this license", []
    q = ctx.find(_norm_phrase(phrase))
    if q:
        return COMPLIANT, f'the card displays "{phrase}"', [q]
    if ctx.model.card is None:
        return CANNOT_TELL, f'the card is not in the store, so "{phrase}" cannot be checked', []
    return (VIOLATION, f'the model card does not display "{phrase}"',
            [{"source": "card", "value": f'"{phrase}" not found'}])


def _squash(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def check_naming(ctx: Context, params: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """The derivative's name starts with the required prefix (case, spaces, dashes, dots and
    underscores ignored; ``also_accept`` lists further accepted prefixes)."""
    prefix = params.get("prefix") or ctx.base.obligations.get("naming_prefix")
    if not prefix:
        return CANNOT_TELL, "the registry records no naming prefix for this license", []
    name = ctx.model.name
    accepted = [prefix, *params.get("also_accept", ())]
    sq = _squash(name)
    for p in accepted:
        if sq.startswith(_squash(p)):
            return COMPLIANT, f'the name "{name}" starts with "{p}"', [{"source": "model_name", "value": name}]
    return (VIOLATION, f'the name "{name}" does not start with "{prefix}"', [{"source": "model_name", "value": name}])


_MODIFIED = ("fine-tun", "finetun", "fine tun", "trained on", "trained with", "training", "quantiz", "gguf", "merge",
             "lora", "dreambooth", "distill", "modified", "adapter", "textual inversion", "based on")


def check_modified_files(ctx: Context, params: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """Modified files carry a prominent notice of the changes. Only the card is visible to us,
    so a statement of modification in the card body is taken as the notice; its absence is
    never a violation (the files themselves are not inspected)."""
    m = ctx.model
    if m.card is None:
        return CANNOT_TELL, "the card is not in the store", []
    q = ctx.search(_phrases_rx(tuple(params.get("markers", _MODIFIED))), body_only=True)
    if q:
        return COMPLIANT, "the card states how the model was modified", [q]
    return (CANNOT_TELL, "the card body does not state that the model was modified; notices inside the files "
            "cannot be inspected", [])


def check_no_commercial(ctx: Context, params: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """A derivative of a non-commercial or research-only base is not released under a license
    that allows commercial use."""
    base = ctx.base
    commercial = [d for d in ctx.declared if d.known and d.allows_commercial and not ctx.family.carries(d, base)]
    if commercial:
        return (VIOLATION, f"{base.id} forbids commercial use but the derivative declares {commercial[0].id}, "
                f"which allows it", [_declared_ev(ctx)])
    restricted = [d for d in ctx.declared if d.known and (d.allows_commercial is False or ctx.family.carries(d, base))]
    if restricted:
        return COMPLIANT, f"declares {restricted[0].id}, which does not allow commercial use", [_declared_ev(ctx)]
    refs = ctx.references()
    if refs:
        return COMPLIANT, f"refers to the {base.id} license", [_declared_ev(ctx), *refs]
    return CANNOT_TELL, f"declares {ctx.model.declared}; whether it allows commercial use is unknown", [_declared_ev(ctx)]


CheckFn = Callable[[Context, dict[str, Any]], tuple[str, str, list[dict[str, Any]]]]
CHECKS: dict[str, CheckFn] = {
    "passthrough": check_passthrough,
    "copy_of_license": check_copy_of_license,
    "policy": check_policy,
    "notice": check_notice,
    "attribution": check_attribution,
    "naming": check_naming,
    "modified_files": check_modified_files,
    "no_commercial": check_no_commercial,
}


@dataclass
class Rule:
    """One obligation rule from a rule file."""

    id: str
    family: Family
    check: str
    title: str
    description: str
    evidence: tuple[str, ...]
    when: str | None = None
    relations: tuple[str, ...] = ALL_RELATIONS
    params: dict[str, Any] = field(default_factory=dict)

    def applies(self, base: LicenseInfo, relation: str) -> bool:
        """Governs ``base`` and, when ``when`` names a registry obligation the registry records
        for ``base``, that obligation is set."""
        if relation not in self.relations or not self.family.governs(base):
            return False
        if self.when and base.source in ("registry", "generated"):
            return bool(base.obligations.get(self.when))
        return True

    def evaluate(self, ctx: Context) -> RuleResult:
        verdict, reason, ev = CHECKS[self.check](ctx, self.params)
        return RuleResult(self.id, verdict, reason, ev, ctx.base_id, ctx.base.id, self.title)

    def describe(self) -> dict[str, Any]:
        return {"rule": self.id, "family": self.family.family, "check": self.check, "title": self.title,
                "description": self.description, "evidence": list(self.evidence), "when": self.when,
                "relations": list(self.relations), "source": self.family.source}


def _lower_set(items: Any) -> frozenset[str]:
    return frozenset(str(x).lower() for x in (items or ()))


def parse_rule_file(data: dict[str, Any], source: str = "built-in") -> list[Rule]:
    """Rules from one parsed rule file (see the module docstring for the layout)."""
    if not isinstance(data, dict) or "family" not in data or "rules" not in data:
        raise InputError(f"rule file {source}: needs `family` and `rules`")
    applies = data.get("applies_to") or {}
    carries = data.get("carries") or {}
    markers = data.get("markers") or {}
    fam = Family(
        family=str(data["family"]),
        title=str(data.get("title", data["family"])),
        licenses=_lower_set(applies.get("licenses")),
        families=_lower_set(applies.get("families")),
        obligations=frozenset(applies.get("obligations") or ()),
        carries_licenses=_lower_set(carries.get("licenses")),
        carries_families=_lower_set(carries.get("families")),
        carries_generated=bool(carries.get("generated", False)),
        names=tuple(normalize_text(x) for x in markers.get("names", ())),
        links=tuple(str(x).lower() for x in markers.get("links", ())),
        text=tuple(normalize_text(x) for x in markers.get("text", ())),
        source=source,
        fallback=bool(data.get("fallback", False)),
    )
    rules = []
    for item in data["rules"]:
        check = item.get("check")
        if check not in CHECKS:
            raise InputError(f"rule file {source}: rule {item.get('id')!r} has unknown check {check!r}")
        rules.append(Rule(
            id=str(item["id"]), family=fam, check=check, title=str(item.get("title", item["id"])),
            description=" ".join(str(item.get("description", CHECKS[check].__doc__ or "")).split()),
            evidence=tuple(item.get("evidence", ())), when=item.get("when"),
            relations=tuple(item.get("relations", ALL_RELATIONS)), params=dict(item.get("params") or {}),
        ))
    return rules


def load_rule_file(path: str | Path) -> list[Rule]:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read rule file {p}: {exc}") from None
    return parse_rule_file(data, str(p))


@functools.lru_cache(maxsize=1)
def load_rules() -> tuple[Any, ...]:
    """Built-in rules (``adherence/rules/*.yaml``) plus those of every plugin, in that order."""
    from ..plugins import collect

    out: list[Any] = []
    folder = resources.files("railtrack.adherence") / "rules"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            out.extend(parse_rule_file(yaml.safe_load(entry.read_text(encoding="utf-8")), f"built-in:{entry.name}"))
    for item in collect("railtrack_obligation_rules"):
        if isinstance(item, (str, Path)):
            out.extend(load_rule_file(item))
        elif isinstance(item, dict):
            out.extend(parse_rule_file(item, "plugin"))
        elif hasattr(item, "evaluate") and hasattr(item, "applies") and hasattr(item, "id"):
            out.append(item)
        else:
            raise InputError(f"plugin obligation rule of unsupported type {type(item).__name__}")
    ids = [r.id for r in out]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise InputError(f"duplicate obligation rule ids: {', '.join(sorted(dupes))}")
    return tuple(out)


def reset_rules() -> None:
    """Forget the loaded rules (after installing a plugin)."""
    load_rules.cache_clear()
    _FAMILY_CACHE.clear()


_FAMILY_CACHE: dict[tuple[str, str], frozenset[str]] = {}


def _governing_families(base: LicenseInfo) -> frozenset[str]:
    key = (base.id, base.source)
    hit = _FAMILY_CACHE.get(key)
    if hit is not None:
        return hit
    rules = load_rules()
    primary = {r.family.family for r in rules if isinstance(r, Rule) and not r.family.fallback
               and r.family.governs(base)}
    if not primary:
        primary = {r.family.family for r in rules if isinstance(r, Rule) and r.family.governs(base)}
    _FAMILY_CACHE[key] = frozenset(primary)
    return _FAMILY_CACHE[key]


def rules_for(base: LicenseInfo, relation: str) -> list[Any]:
    """The rules that apply to a derivative (by ``relation``) of a base under ``base``.

    Fallback families (``fallback: true``) apply only when no other family governs ``base``.
    Plugin rule objects decide for themselves through ``applies``.
    """
    fams = _governing_families(base)
    out = []
    for r in load_rules():
        if isinstance(r, Rule):
            if r.family.family in fams and r.applies(base, relation):
                out.append(r)
        elif r.applies(base, relation):
            out.append(r)
    return out


def governed(base: LicenseInfo) -> bool:
    """Whether any rule family governs ``base`` (i.e. it has obligations we check)."""
    return bool(_governing_families(base)) or any(
        not isinstance(r, Rule) and any(r.applies(base, rel) for rel in ALL_RELATIONS) for r in load_rules())


def describe_rules() -> list[dict[str, Any]]:
    """What every loaded rule checks and which evidence it reads (for docs, the CLI and the web app)."""
    out = []
    for r in load_rules():
        if isinstance(r, Rule):
            out.append(r.describe())
        else:
            out.append({"rule": r.id, "family": str(getattr(r, "family", "plugin")), "check": "plugin",
                        "title": str(getattr(r, "title", r.id)), "description": " ".join(str(r.__doc__ or "").split()),
                        "evidence": list(getattr(r, "evidence", ())), "when": None,
                        "relations": list(getattr(r, "relations", ALL_RELATIONS)), "source": "plugin"})
    return out
