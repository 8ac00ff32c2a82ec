"""Recognise generated behavioral-use licenses and read them back to their manifest.

Two generators are recognised:

* **railtrack** (``railtrack.licenses``): title ``{Name} {OpenRAIL|RAIL|RESEARCH-ONLY RAIL}-{DAMS}``,
  meta lines (``Licensor:``, ``Licensed Artifact(s):``, ``Commercial use:``, ``Project URL:``),
  an Attachment A whose items are catalogue clause texts or custom restrictions under domain
  sub-headings, and the footer ``railtrack license rt-xxxxxxxxxxxx, template 1.0, catalogue 1.0``.
  The Markdown, plain-text and HTML renderings are parsed back to a full manifest; the
  manifest's recomputed license id is compared with the footer's (``verified``).
* **RAIL License Generator** style (licenses.ai): a title ``{Name} OpenRAIL-AMS`` / ``RAIL-M`` /
  ``RESEARCH-ONLY RAIL-MS``, a ``Licensed Artifact(s):`` line and an Attachment A of use
  restrictions. Reported: flavor, artifacts, the restrictions with the catalogue clause ids
  each one maps to (through clause extraction).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

_FOOTER = re.compile(r"railtrack\s+license\s+(rt-[0-9a-f]{12}),\s+template\s+([0-9A-Za-z.\-]+),\s+"
                     r"catalogue\s+([0-9A-Za-z.\-]*[0-9A-Za-z])")
_TITLE = re.compile(r"^(?P<name>.*?)\s*\b(?P<flavor>OpenRAIL|Open RAIL|RESEARCH-ONLY RAIL|Research-Only RAIL|RAIL)"
                    r"-(?P<art>[DAMS]{1,4})\s*(license|licence)?\s*$", re.I)
_FLAVORS = {"openrail": "open", "open rail": "open", "rail": "rail", "research-only rail": "research"}
_INITIALS = {"D": "data", "A": "application", "M": "model", "S": "source"}
_LABELS = {"data": "data", "application": "application", "applications": "application", "model": "model",
           "models": "model", "source code": "source", "source": "source", "code": "source"}
_META = re.compile(r"^(Licensor|Licensed Artifact\(s\)|Licensed Artifacts?|License type|Commercial use|Project URL|"
                   r"SPDX identifier)\s*:\s*(.*)$", re.I)
_MANIFEST_SCRIPT = re.compile(
    r'<script type="application/json" id="railtrack-manifest">(.*?)</script>', re.S)
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")
_ITEM = re.compile(r"^\s*(?:[-*•]\s+(?:\(?(?:\d{1,3}|[a-z]|[ivx]{1,5})[.)]\s+)?|\(?(?:\d{1,3}|[a-z]|[ivx]{1,5})[.)]\s+)"
                   r"(.+)$", re.S)
_UNDERLINE = re.compile(r"^\s*([=\-~^*#_])\1{2,}\s*$")
_JURISDICTION = re.compile(r"governed by the laws of (.+?), without regard to its conflict-of-laws rules")


@dataclass
class GeneratedLicense:
    """A license made by railtrack's generator or by the RAIL License Generator, read back."""

    generator: str                       # "railtrack" or "rail-generator"
    title: str
    name: str
    flavor: Optional[str]                # open | rail | research
    artifacts: list[str]
    license_id: Optional[str] = None     # rt-xxxxxxxxxxxx (railtrack only)
    licensor: Optional[str] = None
    restriction_ids: list[str] = field(default_factory=list)
    custom_restrictions: list[dict[str, str]] = field(default_factory=list)
    restrictions: list[dict[str, Any]] = field(default_factory=list)  # every Attachment A item
    commercial_use: Optional[bool] = None
    template_version: Optional[str] = None
    catalog_version: Optional[str] = None
    manifest: Optional[dict[str, Any]] = None
    verified: Optional[bool] = None      # recomputed license id equals the footer's

    @property
    def family(self) -> str:
        return "railtrack" if self.generator == "railtrack" else "rail"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- text -> paragraphs

def _html_to_text(text: str) -> str:
    t = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
    t = re.sub(r"(?is)<dt[^>]*>(.*?)</dt>\s*<dd[^>]*>(.*?)</dd>", r"\n\n\1: \2\n\n", t)
    t = re.sub(r'(?is)<li[^>]*\bvalue="(\d+)"[^>]*>', r"\n\n\1. ", t)
    t = re.sub(r"(?is)<li[^>]*>", "\n\n- ", t)
    t = re.sub(r"(?is)<h1[^>]*>", "\n\n# ", t)
    t = re.sub(r"(?is)<h2[^>]*>", "\n\n## ", t)
    t = re.sub(r"(?is)<h[3-6][^>]*>", "\n\n### ", t)
    t = re.sub(r"(?is)<blockquote[^>]*>\s*(<p[^>]*>)?", "\n\n> ", t)
    t = re.sub(r"(?is)<br\s*/?>", "\n", t)
    t = re.sub(r"(?is)</(p|h\d|li|dd|dt|blockquote|footer|header|div|section|ol|ul|dl|figure|tr)>", "\n\n", t)
    t = re.sub(r"(?s)<[^>]+>", " ", t)
    return html.unescape(t)


def _paragraphs(text: str) -> list[tuple[str, bool]]:
    """Logical paragraphs as (text, is_quote); wrapped lines joined, meta lines kept apart."""
    if re.search(r"(?i)<(html|body|article|h1|p)\b", text):
        text = _html_to_text(text)
    else:
        text = html.unescape(_MD_ESCAPE.sub(r"\1", text))
    out: list[tuple[str, bool]] = []
    block: list[str] = []

    def flush() -> None:
        if not block:
            return
        quote = block[0].startswith(("    ", "\t", ">"))
        joined = " ".join(re.sub(r"^\s*>\s?", "", ln).strip() for ln in block)
        joined = re.sub(r"\s+", " ", joined).strip()
        if joined:
            out.append((joined, quote))
        block.clear()

    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            flush()
            continue
        if _UNDERLINE.match(line):
            if len(block) == 1:  # a plain-text heading: one line underlined with === or ---
                block[0] = "## " + block[0].strip()
            flush()
            continue
        s = line.strip()
        if _META.match(s) or s.startswith("#") or (s.startswith("[") and s.endswith("]")) or _FOOTER.search(s):
            flush()
            block.append(line)
            flush()
            continue
        if block and _ITEM.match(line) and not line.startswith(" "):
            flush()
        block.append(line)
    flush()
    return out


def _heading_text(p: str) -> str | None:
    if p.startswith("#"):
        return p.lstrip("#").strip()
    if p.startswith("[") and p.endswith("]"):
        return p[1:-1].strip()
    return None


def _artifacts_from(initials: str, line: str | None) -> list[str]:
    arts: list[str] = []
    if line:
        for part in re.split(r",|\band\b|/", line):
            a = _LABELS.get(part.strip().strip(".").lower())
            if a and a not in arts:
                arts.append(a)
    if not arts:
        arts = [_INITIALS[c] for c in initials.upper() if c in _INITIALS]
    order = ["data", "application", "model", "source"]
    return sorted(set(arts), key=order.index)


def _domain_of(title: str) -> str:
    from ..catalog.clauses import load_catalog

    cat = load_catalog()
    for d in cat.domains():
        if cat.domain_title(d).lower() == title.lower() or d == title.lower():
            return d
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "general"


# ----------------------------------------------------------------------------- parser

def parse_generated(text: str) -> GeneratedLicense | None:
    """Parse a railtrack-generated or RAIL-Generator-style license; None when ``text`` is neither."""
    if not text or ("Attachment A" not in text and "railtrack license rt-" not in text):
        return None
    footer = _FOOTER.search(text)
    script = _MANIFEST_SCRIPT.search(text) if footer else None
    paras = _paragraphs(text)
    if not paras:
        return None
    # title: the first paragraph that reads like a RAIL title (within the first few)
    title_m = None
    for p, _q in paras[:4]:
        cand = (_heading_text(p) or p).strip("*_ \t")
        title_m = _TITLE.match(cand)
        if title_m:
            break
    if title_m is None and footer is None:
        return None
    meta: dict[str, str] = {}
    for p, _q in paras:
        mm = _META.match(p)
        if mm and mm.group(1).lower() not in meta:
            meta[mm.group(1).lower()] = mm.group(2).strip()
    arts_line = meta.get("licensed artifact(s)") or meta.get("licensed artifacts") or meta.get("licensed artifact")
    if footer is None and arts_line is None:
        return None  # a RAIL-style title without the Licensed Artifact(s) line: not a generator license

    name = title_m.group("name").strip() if title_m else ""
    flavor = _FLAVORS.get(title_m.group("flavor").lower()) if title_m else None
    artifacts = _artifacts_from(title_m.group("art") if title_m else "", arts_line)

    # sections: attachment items, notice quotes, additional information
    from ..catalog.clauses import load_catalog

    catalog = load_catalog()
    by_text = {re.sub(r"\s+", " ", c.text).strip(): c for c in catalog.clauses}
    section = ""
    domain = "general"
    items: list[tuple[str, str]] = []
    notice: list[str] = []
    info: list[str] = []
    jurisdiction = None
    in_attachment = False
    for p, quote in paras:
        head = _heading_text(p)
        if _FOOTER.search(p):
            break
        if head is not None:
            if re.match(r"(?i)attachment a\b", head):
                in_attachment, section = True, "attachment"
            elif in_attachment:
                domain = _domain_of(head)
            else:
                section = head.lower()
            continue
        if not in_attachment and re.match(r"(?i)^attachment a\b", p) and len(p) < 60:
            in_attachment, section = True, "attachment"
            continue
        jm = _JURISDICTION.search(p)
        if jm and not in_attachment:
            jurisdiction = jm.group(1)
        if in_attachment:
            im = _ITEM.match(p)
            if im:
                items.append((im.group(1).strip(), domain))
        elif section.endswith("attribution notice") and quote:
            notice.append(p)
        elif section == "additional information":
            info.append(p)

    restriction_ids: list[str] = []
    customs: list[dict[str, str]] = []
    restrictions: list[dict[str, Any]] = []
    if footer is not None:
        for item, dom in items:
            clause = by_text.get(item)
            if clause is not None:
                restriction_ids.append(clause.id)
                restrictions.append({"text": item, "clause_ids": [clause.id], "domain": clause.domain})
            else:
                customs.append({"text": item, "domain": dom})
                restrictions.append({"text": item, "clause_ids": [], "domain": dom})
    else:
        from .clauses import extract_clauses

        lead = "You agree not to use the Licensed Artifacts:\n"
        for item, dom in items:
            hits = extract_clauses(lead + item)
            ids = sorted({h.clause_id for h in hits}, key=catalog.order)
            restrictions.append({"text": item, "clause_ids": ids,
                                 "domain": hits[0].domain if hits else dom})
            for cid in ids:
                if cid not in restriction_ids:
                    restriction_ids.append(cid)

    commercial = meta.get("commercial use")
    gen = GeneratedLicense(
        generator="railtrack" if footer else "rail-generator",
        title=(f"{name} " if name else "") + (title_m.group(0)[len(title_m.group("name")):].strip() if title_m else ""),
        name=name,
        flavor=flavor,
        artifacts=artifacts,
        license_id=footer.group(1) if footer else None,
        licensor=meta.get("licensor"),
        restriction_ids=restriction_ids,
        custom_restrictions=customs,
        restrictions=restrictions,
        commercial_use=(None if commercial is None else commercial.lower().startswith("permitted")),
        template_version=footer.group(2) if footer else None,
        catalog_version=footer.group(3) if footer else None,
    )
    if footer is not None:
        _rebuild_manifest(gen, script.group(1) if script else None, notice, info, jurisdiction, meta.get("project url"))
    return gen


def _rebuild_manifest(gen: GeneratedLicense, embedded: str | None, notice: list[str], info: list[str],
                      jurisdiction: str | None, url: str | None) -> None:
    """Rebuild the railtrack manifest and check that it hashes to the footer's license id."""
    try:
        from ..licenses import LicenseSpec, license_id
    except Exception:  # pragma: no cover - the generator is part of railtrack
        return
    data: dict[str, Any] | None = None
    if embedded:
        try:
            data = json.loads(html.unescape(embedded))
            for k in ("license_id", "title", "spdx_id"):
                data.pop(k, None)
        except ValueError:
            data = None
    if data is None:
        data = {
            "name": gen.name, "licensor": gen.licensor or "", "flavor": gen.flavor or "open",
            "artifacts": gen.artifacts, "restrictions": gen.restriction_ids,
            "custom_restrictions": gen.custom_restrictions, "commercial_use": gen.commercial_use,
            "notice": "\n\n".join(notice) or None, "jurisdiction": jurisdiction, "url": url,
            "info": "\n\n".join(info) or None,
            "catalog_version": gen.catalog_version, "template_version": gen.template_version,
        }
    try:
        spec = LicenseSpec.model_validate(data)
    except Exception:
        gen.verified = False
        return
    gen.manifest = spec.manifest() if hasattr(spec, "manifest") else spec.model_dump()
    gen.verified = license_id(spec) == gen.license_id
