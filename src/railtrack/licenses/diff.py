"""Clause-level comparison of two license manifests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..catalog.clauses import load_catalog
from .manifest import LicenseSpec, license_id, title

__all__ = ["LicenseDiff", "diff_specs"]

_FIELDS = ("name", "licensor", "flavor", "artifacts", "commercial_use", "notice", "jurisdiction", "url", "info",
           "catalog_version", "template_version")


@dataclass
class LicenseDiff:
    """What changes from license ``a`` to license ``b``.

    ``added`` / ``removed``: catalogue clause ids; ``custom_added`` / ``custom_removed``:
    custom restrictions (``{"text", "domain"}``); ``fields``: other manifest fields that
    differ, ``{field: [a_value, b_value]}``; ``domains_added`` / ``domains_removed``: restricted
    domains gained or lost.
    """

    a_id: str
    b_id: str
    a_title: str
    b_title: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    common: list[str] = field(default_factory=list)
    custom_added: list[dict[str, str]] = field(default_factory=list)
    custom_removed: list[dict[str, str]] = field(default_factory=list)
    domains_added: list[str] = field(default_factory=list)
    domains_removed: list[str] = field(default_factory=list)
    fields: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return self.a_id == self.b_id

    @property
    def same_restrictions(self) -> bool:
        return not (self.added or self.removed or self.custom_added or self.custom_removed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": {"license_id": self.a_id, "title": self.a_title},
            "b": {"license_id": self.b_id, "title": self.b_title},
            "identical": self.identical,
            "added": self.added,
            "removed": self.removed,
            "common": self.common,
            "custom_added": self.custom_added,
            "custom_removed": self.custom_removed,
            "domains_added": self.domains_added,
            "domains_removed": self.domains_removed,
            "fields": self.fields,
        }

    def lines(self) -> list[str]:
        """A readable report, one change per line (``+`` added in b, ``-`` removed from a)."""
        cat = load_catalog()
        out = [f"--- {self.a_id} {self.a_title}", f"+++ {self.b_id} {self.b_title}"]
        if self.identical:
            out.append("identical")
            return out
        for key, (a, b) in self.fields.items():
            out.append(f"~ {key}: {_show(a)} -> {_show(b)}")
        for rid in self.removed:
            out.append(f"- {rid}: {cat.get(rid).title}")
        for rid in self.added:
            out.append(f"+ {rid}: {cat.get(rid).title}")
        for c in self.custom_removed:
            out.append(f"- custom [{c['domain']}]: {c['text']}")
        for c in self.custom_added:
            out.append(f"+ custom [{c['domain']}]: {c['text']}")
        if self.domains_removed:
            out.append("domains no longer restricted: " + ", ".join(self.domains_removed))
        if self.domains_added:
            out.append("domains newly restricted: " + ", ".join(self.domains_added))
        out.append(f"{len(self.common)} catalogue restrictions in common")
        return out


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "(none)"
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def diff_specs(a: LicenseSpec, b: LicenseSpec) -> LicenseDiff:
    """Clause-level differences between manifests ``a`` and ``b``."""
    ra, rb = set(a.restrictions), set(b.restrictions)
    ca = [c.model_dump() for c in a.custom_restrictions]
    cb = [c.model_dump() for c in b.custom_restrictions]
    da, db = a.domains(), b.domains()
    fields = {}
    for key in _FIELDS:
        va, vb = getattr(a, key), getattr(b, key)
        if va != vb:
            fields[key] = [va, vb]
    return LicenseDiff(
        a_id=license_id(a),
        b_id=license_id(b),
        a_title=title(a),
        b_title=title(b),
        added=[r for r in b.restrictions if r not in ra],
        removed=[r for r in a.restrictions if r not in rb],
        common=[r for r in a.restrictions if r in rb],
        custom_added=[c for c in cb if c not in ca],
        custom_removed=[c for c in ca if c not in cb],
        domains_added=[d for d in db if d not in da],
        domains_removed=[d for d in da if d not in db],
        fields=fields,
    )
