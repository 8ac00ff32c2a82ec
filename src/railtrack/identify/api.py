"""Identification API: texts, files, directories, model repo folders and model cards.

``identify_text(text, declared=None)`` names the license a text contains (canonical
registry id and version, or ``unknown`` with the candidates), where it sits, how much of
the reference was found, the use restrictions the text contains, and - for a model card -
the license the card's metadata declares. ``identify_paths(paths)`` does the same for files
and folders and never raises on bad input: each result carries a ``status``.
"""

from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from ..catalog.registry import load_registry
from .clauses import ClauseHit, extract_clauses
from .generated import GeneratedLicense, parse_generated
from .matcher import Candidate, Span, match_text

MAX_BYTES = 10 * 1024 * 1024

#: Statuses of an identification (per input file).
STATUS_OK = "ok"
STATUS_EMPTY = "empty"
STATUS_BINARY = "binary"
STATUS_NOT_UTF8 = "not-utf8"          # decoded with replacement characters
STATUS_TRUNCATED = "truncated"        # larger than 10 MB: only the head was read
STATUS_UNREADABLE = "unreadable"
STATUSES = (STATUS_OK, STATUS_EMPTY, STATUS_BINARY, STATUS_NOT_UTF8, STATUS_TRUNCATED, STATUS_UNREADABLE)

_LICENSEISH = ("license", "licence", "copying", "notice", "use_policy", "use-policy", "usepolicy",
               "acceptable_use", "acceptable-use", "terms", "readme", "model_card", "modelcard",
               "responsible_use", "responsible-use", "prohibited")
_SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".cache",
              ".ipynb_checkpoints", ".tox"}
_CODE_SUFFIXES = {".py", ".js", ".ts", ".json", ".jsonl", ".bin", ".safetensors", ".gguf", ".pt", ".pth", ".onnx",
                  ".sh", ".c", ".h", ".cc", ".cpp", ".rs", ".go", ".java", ".ipynb", ".csv", ".parquet", ".png",
                  ".jpg", ".gif", ".zip", ".gz", ".tar", ".model", ".toml", ".cfg", ".ini", ".lock"}
_TEXT_SUFFIXES = {"", ".md", ".txt", ".rst", ".license", ".licence", ".markdown", ".html", ".htm", ".yaml", ".yml"}


@dataclass
class Identification:
    """What one text or file holds. ``license`` is a registry id, an ``rt-...`` id, or ``unknown``."""

    path: Optional[str] = None
    status: str = STATUS_OK
    detail: Optional[str] = None
    license: str = "unknown"
    name: Optional[str] = None
    version: Optional[str] = None
    family: Optional[str] = None
    kind: Optional[str] = None
    behavioral_use: bool = False
    score: float = 0.0
    margin: float = 0.0
    coverage: float = 0.0
    complete: bool = False
    spans: list[Span] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    declared: Optional[str] = None
    declared_raw: Optional[list[str]] = None
    mismatch: Optional[bool] = None
    clauses: list[ClauseHit] = field(default_factory=list)
    generated: Optional[GeneratedLicense] = None

    @property
    def licenses(self) -> list[str]:
        """Every license/AUP id with a decided span, in order of discovery."""
        return [s.license for s in self.spans if s.license != "unknown"]

    @property
    def domains(self) -> list[str]:
        """Restriction domains found: the registry's for a known license plus extracted clauses."""
        reg = load_registry()
        out: list[str] = []
        for lid in self.licenses:
            e = reg.get(lid)
            for d in (e.domains if e else ()):
                if d not in out:
                    out.append(d)
        for c in self.clauses:
            if c.domain not in out:
                out.append(c.domain)
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the ``railtrack identify --json`` object)."""
        return {
            "path": self.path,
            "status": self.status,
            "detail": self.detail,
            "license": self.license,
            "name": self.name,
            "version": self.version,
            "family": self.family,
            "kind": self.kind,
            "behavioral_use": self.behavioral_use,
            "score": self.score,
            "margin": self.margin,
            "coverage": self.coverage,
            "complete": self.complete,
            "spans": [s.to_dict() for s in self.spans],
            "candidates": [c.to_dict() for c in self.candidates],
            "declared": self.declared,
            "declared_raw": self.declared_raw,
            "mismatch": self.mismatch,
            "domains": self.domains,
            "clauses": [c.to_dict() for c in self.clauses],
            "generated": self.generated.to_dict() if self.generated else None,
        }


# ----------------------------------------------------------------------------- cards

_FRONT_END = re.compile(r"\n---[ \t]*(\r?\n|$)")
_SIMPLE_KEY = {k: re.compile(rf"^{k}:[ \t]*(.*?)[ \t]*$", re.M) for k in ("license", "license_name")}
_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._+\-]*$")


def _fast_card_metadata(text: str) -> tuple[list[str], Optional[str]] | None:
    """The common case read without a YAML parser: ``license: x`` and ``license_name: y`` as plain scalars.

    Returns None (the caller then parses the YAML) when the front matter uses any other
    form for these keys (lists, quotes, flow style, anchors).
    """
    end = _FRONT_END.search(text, 3)
    if end is None:
        return None
    block = text[3:end.start() + 1]
    values: dict[str, Optional[str]] = {}
    for key, rx in _SIMPLE_KEY.items():
        found = rx.findall(block)
        if len(found) > 1:
            return None
        if not found:
            values[key] = None
            continue
        v = found[0].split(" #", 1)[0].strip()
        if not _PLAIN.match(v):
            return None
        values[key] = v
    lic = values["license"]
    return ([lic.lower()] if lic else []), values["license_name"]


def _card_metadata(text: str) -> tuple[list[str], Optional[str]] | None:
    """(licenses, license_name) from a model card's YAML front matter, or None if no card."""
    if not text.lstrip("\ufeff").startswith("---"):
        return None
    fast = _fast_card_metadata(text.lstrip("\ufeff"))
    if fast is not None:
        return fast
    try:
        from ..hub.cards import parse_card  # guarded parser (size / alias-bomb limits)

        card = parse_card(text)
        if card.error:
            return None
        return list(card.licenses), card.license_name
    except ImportError:  # pragma: no cover - the hub package is part of railtrack
        from huggingface_hub import ModelCard

        head = text[: 256 * 1024]
        try:
            data = ModelCard(head, ignore_metadata_errors=True).data.to_dict()
        except Exception:
            return None
        lic = data.get("license")
        lics = [str(x).strip().lower() for x in (lic if isinstance(lic, list) else [lic]) if x]
        name = data.get("license_name")
        return lics, (str(name) if name else None)


def declared_license(text: str) -> tuple[Optional[str], Optional[list[str]]]:
    """The license a model card declares: (canonical id or raw tag, raw values), or (None, None).

    ``license: other`` with a ``license_name`` resolves the name (``llama3``, ``deepseek``...).
    """
    meta = _card_metadata(text)
    if meta is None:
        return None, None
    lics, name = meta
    if not lics and not name:
        return None, None
    raw = list(lics)
    if name:
        raw.append(f"license_name:{name}")
    reg = load_registry()
    for tag in lics:
        if tag == "other" and name:
            e = reg.resolve(name)
            return (e.id if e else f"other:{name}"), raw
        e = reg.resolve(tag)
        if e is not None:
            return e.id, raw
    return (lics[0] if lics else f"other:{name}"), raw


def _same_license(found: str, declared: str) -> bool:
    if found == declared:
        return True
    reg = load_registry()
    a, b = reg.get(found), reg.get(declared)
    if a is None or b is None:
        return False
    # an AUP found where its license is declared, or a dated version filed under the same Hub tag
    if a.kind == "aup" and a.license == b.id:
        return True
    return bool(a.hub_tag and a.hub_tag == b.hub_tag)


# ----------------------------------------------------------------------------- text

def identify_text(text: str, declared: str | None = None, *, path: str | None = None,
                  clauses: bool = True) -> Identification:
    """Identify the license(s) in ``text``.

    ``declared`` is the license the metadata claims (a Hub tag, name or SPDX id); when
    omitted and ``text`` is a model card, it is read from the card's YAML front matter.
    ``clauses=False`` skips clause extraction (faster bulk scans).
    """
    ident = Identification(path=path)
    if not text or not text.strip():
        ident.status = STATUS_EMPTY
        ident.detail = "empty text"
        return ident
    reg = load_registry()
    if declared is not None:
        e = reg.resolve(declared)
        ident.declared = e.id if e else declared.strip().lower()
        ident.declared_raw = [declared]
    else:
        ident.declared, ident.declared_raw = declared_license(text)

    m = match_text(text)
    ident.score, ident.margin, ident.coverage, ident.complete = m.score, m.margin, m.coverage, m.complete
    ident.spans, ident.candidates, ident.family = m.spans, m.candidates, m.family
    if m.entry is not None:
        e = m.entry
        ident.license, ident.name, ident.version, ident.kind = e.id, e.name, e.version, e.kind
        ident.family = e.family
        ident.behavioral_use = e.behavioral_use or any(
            (reg.get(s.license) is not None and reg.get(s.license).behavioral_use) for s in m.spans)

    gen = parse_generated(text) if ident.license == "unknown" else None
    if gen is not None:
        ident.generated = gen
        if gen.license_id:
            ident.license = gen.license_id
        ident.family = gen.family
        ident.kind = "license"
        ident.name = gen.title
        ident.version = gen.template_version
        ident.behavioral_use = bool(gen.restrictions or gen.custom_restrictions or gen.restriction_ids)

    if clauses:
        ident.clauses = extract_clauses(text)
        if ident.clauses and ident.license == "unknown":
            # an unknown or custom license with use restrictions is still behavioral-use
            ident.behavioral_use = True
    if ident.declared is not None and ident.license != "unknown":
        ident.mismatch = not _same_license(ident.license, ident.declared)
    return ident


# ----------------------------------------------------------------------------- files

def _decode(data: bytes) -> tuple[str, Optional[str]]:
    """(text, status) - status None for clean UTF-8 / UTF-16 with BOM, else not-utf8."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(enc), None
            except UnicodeDecodeError:
                return data.decode(enc, errors="replace"), STATUS_NOT_UTF8
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        # a 10 MB head may end inside a multi-byte character: that alone is not an error
        if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return data[: exc.start].decode("utf-8"), None
        return data.decode("utf-8", errors="replace"), STATUS_NOT_UTF8


_CONTROL_BYTES = bytes(b for b in range(32) if b < 9 or 13 < b)


def _looks_binary(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if b"\x00" in head:
        return True
    ctrl = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return len(head) > 0 and ctrl / len(head) > 0.1


def identify_file(path: str | os.PathLike[str], *, clauses: bool = True) -> Identification:
    """Identify one file; bad input gives a status, never an exception."""
    p = Path(path)
    shown = str(path)
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            data = fh.read(MAX_BYTES)
    except IsADirectoryError:
        return Identification(path=shown, status=STATUS_UNREADABLE, detail="is a directory")
    except FileNotFoundError:
        return Identification(path=shown, status=STATUS_UNREADABLE, detail="no such file")
    except PermissionError:
        return Identification(path=shown, status=STATUS_UNREADABLE, detail="permission denied")
    except OSError as exc:
        return Identification(path=shown, status=STATUS_UNREADABLE, detail=exc.strerror or str(exc))
    if not data.strip():
        return Identification(path=shown, status=STATUS_EMPTY, detail="empty file" if size == 0 else "only whitespace")
    if _looks_binary(data[:8192]):
        return Identification(path=shown, status=STATUS_BINARY, detail=f"binary file ({size} bytes)")
    text, status = _decode(data)
    ident = identify_text(text, path=shown, clauses=clauses)
    if size > MAX_BYTES:
        ident.status = STATUS_TRUNCATED
        ident.detail = f"file is {size} bytes; only the first {MAX_BYTES} bytes were read"
    elif status == STATUS_NOT_UTF8:
        ident.status = STATUS_NOT_UTF8
        ident.detail = "not valid UTF-8; decoded with replacement characters"
    return ident


def is_licenseish(name: str) -> bool:
    """True for file names that usually hold license terms or a model card."""
    low = name.lower()
    suffix = os.path.splitext(low)[1]
    if suffix not in _TEXT_SUFFIXES and (suffix in _CODE_SUFFIXES or not low.startswith(("license", "licence", "copying"))):
        return False
    return any(k in low for k in _LICENSEISH)


def iter_license_files(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """License-ish files and READMEs under ``folder`` (recursive, sorted, no VCS/venv folders)."""
    root = Path(folder)
    for dirpath, dirnames, filenames in os.walk(root, onerror=None):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for fn in sorted(filenames):
            if is_licenseish(fn):
                yield Path(dirpath) / fn


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[tuple[str, Path | None]]:
    """Inputs -> files to read: a folder becomes its license-ish files (or itself, if none)."""
    out: list[tuple[str, Path | None]] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = list(iter_license_files(p))
            if found:
                out += [(str(f), f) for f in found]
            else:
                out.append((str(raw), None))
        else:
            out.append((str(raw), p))
    return out


def identify_paths(paths: Iterable[str | os.PathLike[str]], *, clauses: bool = True,
                   progress: Any = None) -> list[Identification]:
    """Identify files and folders (recursively: license files, use policies, READMEs, cards).

    One result per file; a folder without any such file gives one ``empty`` result. Never
    raises on bad input. ``progress`` is an optional callable ``(done, total)``.
    """
    items = expand_paths(paths)
    results: list[Identification] = []
    for i, (shown, p) in enumerate(items):
        if p is None:
            results.append(Identification(path=shown, status=STATUS_EMPTY,
                                          detail="folder holds no license, policy or README file"))
        else:
            results.append(identify_file(p, clauses=clauses))
        if progress is not None:
            progress(i + 1, len(items))
    return results
