"""What the adherence rules need to know about a license id: a view on the license registry.

The facts (family, behavioral use, commercial use, obligations) come from
``railtrack.catalog.registry``; SPDX ids the registry does not list are recognised with
``license-expression`` as ordinary open-source licenses (no use restrictions, commercial
use allowed). Tags that are neither (``other``, ``unknown``, a typo) are ``known=False``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

# tags that say "look elsewhere" rather than naming a license
PLACEHOLDER_TAGS = frozenset({"other", "unknown", "custom", "proprietary", "none", "", "unlicensed"})
GENERATED_RE = re.compile(r"^rt-[0-9a-f]{12}$")


@dataclass(frozen=True)
class LicenseInfo:
    """Classification of one license id (lowercase Hub tag, registry id or SPDX id)."""

    id: str
    known: bool
    family: str | None = None
    behavioral_use: bool = False
    allows_commercial: bool | None = None
    non_commercial: bool = False
    research_only: bool = False
    obligations: dict[str, Any] = field(default_factory=dict)
    source: str = "none"  # 'registry', 'spdx', 'generated', 'none'

    @property
    def restrictive(self) -> bool:
        """Carries use restrictions or forbids commercial use."""
        return self.behavioral_use or self.non_commercial or self.research_only

    @property
    def category(self) -> str:
        """Coarse class used for drift direction: behavioral-use, non-commercial, permissive, unknown."""
        if not self.known:
            return "unknown"
        if self.non_commercial or self.research_only or self.allows_commercial is False:
            return "non-commercial"
        if self.behavioral_use:
            return "behavioral-use"
        return "permissive"


_CATEGORY_RANK = {"non-commercial": 3, "behavioral-use": 2, "permissive": 1}


def direction(parent: "LicenseInfo", child: "LicenseInfo") -> str:
    """``to-permissive``, ``to-restrictive``, ``lateral`` (same class) or ``unknown``."""
    a, b = _CATEGORY_RANK.get(parent.category), _CATEGORY_RANK.get(child.category)
    if a is None or b is None:
        return "unknown"
    if a > b:
        return "to-permissive"
    if a < b:
        return "to-restrictive"
    return "lateral"


def _obligations_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return dict(obj)
    if hasattr(obj, "model_dump"):
        return dict(obj.model_dump())
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(obj)
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")}


@functools.lru_cache(maxsize=1)
def _registry() -> Any | None:
    try:
        from ..catalog.registry import load_registry
    except ImportError:  # the registry package is not installed in this build
        return None
    return load_registry()


@functools.lru_cache(maxsize=1)
def _spdx() -> Any:
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


def reset_cache() -> None:
    """Forget cached classifications (tests that change the registry call this)."""
    _registry.cache_clear()
    classify.cache_clear()
    license_markers.cache_clear()


def _entry(tag: str) -> Any | None:
    reg = _registry()
    if reg is None:
        return None
    try:
        entry = reg.get(tag)
    except Exception:  # noqa: BLE001 - a registry without .get for unknown ids
        entry = None
    if entry is None:
        try:
            entry = reg.resolve(tag)
        except Exception:  # noqa: BLE001
            entry = None
    return entry


@functools.lru_cache(maxsize=4096)
def classify(tag: str | None) -> LicenseInfo:
    """Classify a license id; never raises."""
    t = (tag or "").strip().lower()
    if t in PLACEHOLDER_TAGS:
        return LicenseInfo(t or "none", False)
    if GENERATED_RE.match(t):
        # a railtrack-generated license: a RAIL-style behavioral-use license by construction
        return LicenseInfo(t, True, "railtrack", True, None, False, False,
                           {"passthrough_restrictions": True, "copy_of_license": True}, "generated")
    entry = _entry(t)
    if entry is not None and getattr(entry, "kind", "license") != "aup":
        ob = _obligations_dict(getattr(entry, "obligations", None))
        nc = bool(ob.get("non_commercial"))
        ro = bool(ob.get("research_only"))
        allows = ob.get("allows_commercial")
        if allows is None and (nc or ro):
            allows = False
        return LicenseInfo(
            getattr(entry, "id", t), True, getattr(entry, "family", None),
            bool(getattr(entry, "behavioral_use", False)), allows, nc, ro, ob, "registry",
        )
    # ordinary SPDX licenses (apache-2.0, mit, cc-by-4.0 ...): no behavioral-use clauses
    try:
        known = _spdx().known_symbols_lowercase
        sym = known.get(t) or known.get(t + "-only")
    except Exception:  # noqa: BLE001
        sym = None
    if sym is not None:
        nc = "-nc" in t or "noncommercial" in t
        return LicenseInfo(t, True, "spdx", False, not nc, nc, False, {}, "spdx")
    return LicenseInfo(t, False)


@functools.lru_cache(maxsize=1024)
def license_markers(license_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Phrases that name a license (name, aliases) and links to its text, from the registry.

    Both lowercased; used to recognise a derivative's card or ``license_name`` /
    ``license_link`` that refers to the base license.
    """
    entry = _entry(license_id)
    if entry is None:
        return (), ()
    names = [getattr(entry, "name", None), *(getattr(entry, "aliases", None) or [])]
    links = [getattr(entry, "url", None)]
    clean_names = tuple(sorted({str(n).lower().strip() for n in names if n and len(str(n).strip()) >= 8}))
    clean_links = tuple(sorted({re.sub(r"^https?://(www\.)?", "", str(u)).lower().rstrip("/") for u in links if u}))
    return clean_names, clean_links
