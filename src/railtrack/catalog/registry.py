"""Registry of known licenses and acceptable-use policies.

The built-in entries live in ``catalog/licenses/*.yaml`` (one file per family); their
reference texts are shipped in ``catalog/texts/`` with ``ATTRIBUTION.md``. Plugins add
entries through the ``railtrack_licenses`` hook (dicts, or paths of YAML files with the same
layout as the built-in files).

Canonical ids are the Hugging Face Hub license tags where the Hub has one (``llama3.1``,
``creativeml-openrail-m``, ``apache-2.0``); otherwise a stable slug (``deepseek``, ``qwen``).
An acceptable-use policy is an entry of its own (``kind: aup``) linked to its license.

Example::

    from railtrack.catalog.registry import load_registry, is_behavioral_use
    reg = load_registry()
    reg.resolve("Llama 3.1 Community License").id        # 'llama3.1'
    reg.resolve("LicenseRef-scancode-bigscience-open-rail-m2").id   # 'openrail++'
    is_behavioral_use("creativeml-openrail-m")           # True
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InputError, NotFoundError

CATALOG_DIR = Path(__file__).resolve().parent
LICENSES_DIR = CATALOG_DIR / "licenses"
TEXTS_DIR = CATALOG_DIR / "texts"

__all__ = [
    "Obligations",
    "LicenseEntry",
    "Registry",
    "load_registry",
    "is_behavioral_use",
    "normalize_key",
    "read_reference_text",
]


class Obligations(BaseModel):
    """What a license requires of whoever redistributes the work or a derivative of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    passthrough_restrictions: bool = Field(
        False, description="Derivatives must carry the use restrictions forward as enforceable terms.")
    copy_of_license: bool = Field(False, description="A copy of the license must go with every copy.")
    notice_text: Optional[str] = Field(None, description="Notice text that copies must carry.")
    attribution_text: Optional[str] = Field(None, description='Attribution to display, e.g. "Built with Llama".')
    naming_prefix: Optional[str] = Field(
        None, description='Prefix required at the beginning of derived model names, e.g. "Llama".')
    modified_files_marked: bool = Field(False, description="Modified files must carry prominent notices.")
    non_commercial: bool = Field(False, description="Commercial use is not granted.")
    research_only: bool = Field(False, description="Only research use is granted.")
    user_threshold: Optional[int] = Field(
        None, description="Monthly active users above which a separate license is needed (e.g. 700000000).")
    revenue_threshold_usd: Optional[int] = Field(
        None, description="Annual revenue (USD) above which a separate license is needed.")
    no_improving_other_models: bool = Field(
        False, description="Outputs may not be used to improve other (non-family) models.")
    allows_commercial: Optional[bool] = Field(None, description="Commercial use is granted (possibly with thresholds).")


Kind = Literal["license", "aup"]


class LicenseEntry(BaseModel):
    """One known license or acceptable-use policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="Canonical id: the Hub license tag where the Hub has one, else a stable slug.")
    name: str
    version: Optional[str] = None
    date: Optional[str] = None
    family: str
    kind: Kind = "license"
    hub_tag: Optional[str] = Field(None, description="The Hugging Face Hub license tag this entry is filed under.")
    spdx: Optional[str] = Field(None, description="SPDX id or LicenseRef-scancode-* id.")
    scancode: Optional[str] = Field(None, description="ScanCode LicenseDB key.")
    aliases: tuple[str, ...] = ()
    behavioral_use: bool = False
    domains: tuple[str, ...] = ()
    obligations: Obligations = Field(default_factory=Obligations)
    aup: Optional[str] = Field(None, description="Id of the linked acceptable-use policy (licenses).")
    license: Optional[str] = Field(None, description="Id of the license an acceptable-use policy belongs to.")
    text: Optional[str] = Field(None, description="Reference text path, relative to catalog/texts/ (or absolute).")
    url: Optional[str] = None
    notes: Optional[str] = None
    source: str = Field("builtin", description="'builtin' or the plugin file / name that added the entry.")
    base_dir: Optional[str] = Field(None, description="Folder that relative text paths of plugin entries resolve against.")

    @property
    def text_path(self) -> Path | None:
        """Absolute path of the reference text, or None when no text is shipped."""
        if not self.text:
            return None
        p = Path(self.text)
        if p.is_absolute():
            return p
        base = Path(self.base_dir) if self.base_dir else TEXTS_DIR
        return base / p

    @property
    def is_aup(self) -> bool:
        return self.kind == "aup"

    def read_text(self) -> str | None:
        """The reference text without ScanCode front matter, or None when none is shipped."""
        path = self.text_path
        if path is None:
            return None
        return read_reference_text(path)

    def keys(self) -> list[str]:
        """Every string :meth:`Registry.resolve` accepts for this entry."""
        out = [self.id, self.name]
        if self.hub_tag:
            out.append(self.hub_tag)
        if self.spdx:
            out.append(self.spdx)
        if self.scancode:
            out += [self.scancode, f"LicenseRef-scancode-{self.scancode}"]
        if self.version and self.version not in self.name:
            out.append(f"{self.name} {self.version}")
        out += list(self.aliases)
        return out


def read_reference_text(path: str | Path) -> str:
    """Read a reference text file, dropping a leading ScanCode YAML front-matter block."""
    raw = Path(path).read_text(encoding="utf-8")
    if raw.startswith("---\n"):
        end = raw.find("\n---\n", 4)
        if end != -1:
            return raw[end + 5:]
    return raw


_KEY_DROP = re.compile(r"[^a-z0-9.+]+")


def normalize_key(value: str) -> str:
    """Normalise an id, tag, SPDX id or name for lookups: case, punctuation, filler words."""
    s = unicodedata.normalize("NFKC", value).strip().lower()
    s = s.replace("open rail", "openrail").replace("open-rail", "openrail")
    s = re.sub(r"^licenseref-(scancode-)?", "", s)
    s = _KEY_DROP.sub(" ", s)
    words = [w for w in s.split() if w not in {"the", "license", "licence", "agreement", "version", "v"}]
    return "".join(words).strip(".")


class Registry:
    """The known licenses, by canonical id, with lookups by tag, name, SPDX or ScanCode id."""

    def __init__(self, entries: Iterable[LicenseEntry]) -> None:
        self._entries: dict[str, LicenseEntry] = {}
        for e in entries:
            if e.id in self._entries:
                raise InputError(f"license registry: duplicate id {e.id!r} ({e.source} and {self._entries[e.id].source})")
            self._entries[e.id] = e
        self._index: dict[str, str] = {}
        # canonical ids and Hub tags first so they win over aliases of other entries
        for e in self._entries.values():
            self._index.setdefault(normalize_key(e.id), e.id)
        for e in self._entries.values():
            if e.hub_tag:
                self._index.setdefault(normalize_key(e.hub_tag), self._hub_owner(e.hub_tag))
        for e in self._entries.values():
            for k in e.keys():
                nk = normalize_key(k)
                if nk:
                    self._index.setdefault(nk, e.id)
        for e in self._entries.values():
            for ref in (e.aup, e.license):
                if ref and ref not in self._entries:
                    raise InputError(f"license registry: {e.id!r} links to unknown entry {ref!r}")

    def _hub_owner(self, tag: str) -> str:
        """The entry a Hub tag means: the entry whose id is the tag, else the newest one filed under it."""
        if tag in self._entries:
            return tag
        filed = [e for e in self._entries.values() if e.hub_tag == tag]
        filed.sort(key=lambda e: e.date or "", reverse=True)
        return filed[0].id

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LicenseEntry]:
        return iter(self._entries.values())

    def __contains__(self, license_id: object) -> bool:
        return isinstance(license_id, str) and license_id in self._entries

    def entries(self, *, kind: str | None = None, family: str | None = None) -> list[LicenseEntry]:
        """All entries (optionally only one kind or family), in registry order."""
        return [e for e in self._entries.values()
                if (kind is None or e.kind == kind) and (family is None or e.family == family)]

    def ids(self) -> list[str]:
        return list(self._entries)

    def get(self, license_id: str) -> LicenseEntry | None:
        """The entry with exactly this canonical id, or None."""
        return self._entries.get(license_id)

    def require(self, license_id: str) -> LicenseEntry:
        """Like :meth:`get` but resolves any accepted key and raises NotFoundError when unknown."""
        entry = self.resolve(license_id)
        if entry is None:
            raise NotFoundError(f"unknown license {license_id!r}")
        return entry

    def resolve(self, key: str | None) -> LicenseEntry | None:
        """Look up a Hub tag, canonical id, name, alias, SPDX id or ScanCode key; None if unknown.

        ``other``, ``unknown`` and empty strings resolve to None.
        """
        if not key or not isinstance(key, str):
            return None
        if key in self._entries:
            return self._entries[key]
        nk = normalize_key(key)
        if not nk or nk in {"other", "unknown", "none", "noassertion"}:
            return None
        found = self._index.get(nk)
        return self._entries[found] if found else None

    def aup_of(self, license_id: str) -> LicenseEntry | None:
        """The acceptable-use policy linked to a license, if any."""
        e = self.resolve(license_id)
        return self._entries.get(e.aup) if e is not None and e.aup else None

    def family_members(self, family: str) -> list[LicenseEntry]:
        return self.entries(family=family)

    def with_text(self) -> list[LicenseEntry]:
        """Entries that ship a reference text (the ones identification can match)."""
        return [e for e in self._entries.values() if e.text_path is not None]


def _entries_from_document(doc: Any, source: str, base_dir: Path | None) -> list[LicenseEntry]:
    if isinstance(doc, list):
        items, family = doc, None
    elif isinstance(doc, dict) and "licenses" in doc:
        items, family = doc.get("licenses") or [], doc.get("family")
    elif isinstance(doc, dict):
        items, family = [doc], None
    else:
        raise InputError(f"license registry {source}: expected a mapping or a list of entries")
    out: list[LicenseEntry] = []
    for item in items:
        if not isinstance(item, dict):
            raise InputError(f"license registry {source}: every entry must be a mapping")
        data = dict(item)
        if family and "family" not in data:
            data["family"] = family
        data.setdefault("source", source)
        if base_dir is not None and source != "builtin":
            data.setdefault("base_dir", str(base_dir))
        for k in ("aliases", "domains"):
            if k in data and data[k] is None:
                data[k] = ()
        try:
            out.append(LicenseEntry.model_validate(data))
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(x) for x in first["loc"])
            raise InputError(
                f"license registry {source}: entry {data.get('id', '?')!r}: {loc}: {first['msg']}") from None
    return out


def _load_yaml(path: Path, source: str) -> list[LicenseEntry]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read license registry file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"license registry file {path} is not valid YAML: {exc}".splitlines()[0]) from None
    return _entries_from_document(doc, source, path.parent)


def builtin_entries() -> list[LicenseEntry]:
    """The entries shipped with railtrack (``catalog/licenses/*.yaml``)."""
    out: list[LicenseEntry] = []
    for path in sorted(LICENSES_DIR.glob("*.yaml")):
        out += _load_yaml(path, "builtin")
    return out


def plugin_entries() -> list[LicenseEntry]:
    """Entries added by plugins through the ``railtrack_licenses`` hook."""
    from ..plugins import collect

    out: list[LicenseEntry] = []
    for item in collect("railtrack_licenses"):
        if isinstance(item, LicenseEntry):
            out.append(item)
        elif isinstance(item, (str, Path)):
            out += _load_yaml(Path(item), str(item))
        elif isinstance(item, dict):
            out += _entries_from_document(item, item.get("source", "plugin"), None)
        else:
            raise InputError(f"railtrack_licenses plugin returned an unsupported item: {type(item).__name__}")
    return out


@functools.lru_cache(maxsize=1)
def load_registry() -> Registry:
    """The registry of built-in and plugin entries (cached; ``load_registry.cache_clear()`` to reload)."""
    return Registry(builtin_entries() + plugin_entries())


def is_behavioral_use(license_id: str | None) -> bool:
    """True when the license (any key :meth:`Registry.resolve` accepts) carries behavioral-use restrictions."""
    entry = load_registry().resolve(license_id) if license_id else None
    return bool(entry and entry.behavioral_use)
