"""The clause catalogue: the use restrictions a licensor can attach to a license.

The built-in catalogue is ``catalog/clauses.yaml`` (shipped in the package). Plugins add
catalogues through the ``railtrack_clause_catalogues`` hook (paths of YAML files with the
same layout, or already-parsed dicts); their clauses and domains are merged into the
built-in ones. An id may only be defined once.

Usage::

    from railtrack.catalog.clauses import load_catalog
    cat = load_catalog()
    cat.get("military.military-use").text
    [c.id for c in cat.baseline()]
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from ..errors import InputError, NotFoundError

__all__ = ["Clause", "Domain", "Catalog", "load_catalog", "parse_catalog", "CLAUSE_ID_RE"]

#: A clause id: ``domain.slug``, lowercase letters, digits and hyphens.
CLAUSE_ID_RE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9-]*$")
_DOMAIN_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_WS_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class Clause:
    """One use restriction.

    ``text`` completes the Attachment A lead-in ("You shall not use the Licensed Artifacts
    or any Derivative, and shall not permit others to use them:") and is a single line.
    ``baseline`` clauses are mandatory in every generated license. ``sources`` are registry
    license ids of well-known licenses with a comparable restriction.
    """

    id: str
    domain: str
    title: str
    text: str
    baseline: bool = False
    sources: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "domain": self.domain,
            "title": self.title,
            "text": self.text,
            "baseline": self.baseline,
            "sources": list(self.sources),
        }


@dataclass(frozen=True)
class Domain:
    """A restriction domain (``military``, ``privacy`` ...) with a display title."""

    id: str
    title: str
    description: str = ""


@dataclass(frozen=True)
class Catalog:
    """The merged clause catalogue (built-in plus plugins), in catalogue order."""

    version: str
    clauses: tuple[Clause, ...]
    domain_info: Mapping[str, Domain] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {c.id: c for c in self.clauses})
        object.__setattr__(self, "_order", {c.id: i for i, c in enumerate(self.clauses)})

    def get(self, clause_id: str) -> Clause:
        """The clause with id ``clause_id``; raises :class:`NotFoundError` if unknown."""
        try:
            return self._by_id[clause_id]  # type: ignore[attr-defined]
        except KeyError:
            hint = _suggest(clause_id, self._by_id)  # type: ignore[attr-defined]
            raise NotFoundError(
                f"unknown clause id {clause_id!r}" + (f" (did you mean {hint!r}?)" if hint else "")
                + "; see `railtrack license catalog`"
            ) from None

    def __contains__(self, clause_id: object) -> bool:
        return clause_id in self._by_id  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.clauses)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.clauses)

    def ids(self) -> list[str]:
        return [c.id for c in self.clauses]

    def baseline(self) -> list[Clause]:
        """The mandatory clauses, in catalogue order."""
        return [c for c in self.clauses if c.baseline]

    def domains(self) -> list[str]:
        """Domain ids in catalogue order (the order of the ``domains`` table, then first use)."""
        seen: dict[str, None] = dict.fromkeys(self.domain_info)
        for c in self.clauses:
            seen.setdefault(c.domain, None)
        return list(seen)

    def domain_title(self, domain: str) -> str:
        info = self.domain_info.get(domain)
        return info.title if info else domain.replace("-", " ").capitalize()

    def in_domain(self, domain: str) -> list[Clause]:
        return [c for c in self.clauses if c.domain == domain]

    def order(self, clause_id: str) -> int:
        """Position of a clause in the catalogue (used to sort restrictions canonically)."""
        return self._order[clause_id]  # type: ignore[attr-defined]


def _suggest(word: str, options: Iterable[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return found[0] if found else None


def _clean(text: Any, what: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"clause catalogue: {what} must be a non-empty string")
    return _WS_RE.sub(" ", text).strip()


def parse_catalog(data: Mapping[str, Any], *, origin: str = "catalogue") -> tuple[str, list[Clause], dict[str, Domain]]:
    """Validate one catalogue document; return ``(version, clauses, domains)``."""
    if not isinstance(data, Mapping):
        raise InputError(f"{origin}: a clause catalogue must be a mapping with a 'clauses' list")
    version = str(data.get("version", "")).strip()
    domains: dict[str, Domain] = {}
    for key, info in (data.get("domains") or {}).items():
        if not _DOMAIN_RE.match(str(key)):
            raise InputError(f"{origin}: invalid domain id {key!r}")
        info = info or {}
        domains[str(key)] = Domain(
            id=str(key),
            title=_clean(info.get("title", str(key)), f"domain {key} title"),
            description=str(info.get("description", "") or "").strip(),
        )
    raw = data.get("clauses")
    if not isinstance(raw, list):
        raise InputError(f"{origin}: 'clauses' must be a list")
    clauses: list[Clause] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise InputError(f"{origin}: clause #{i + 1} is not a mapping")
        cid = str(item.get("id", ""))
        if not CLAUSE_ID_RE.match(cid):
            raise InputError(f"{origin}: clause #{i + 1} has an invalid id {cid!r} (expected domain.slug)")
        domain = str(item.get("domain", ""))
        if cid.split(".", 1)[0] != domain:
            raise InputError(f"{origin}: clause {cid} has domain {domain!r}, which does not match its id")
        baseline = item.get("baseline", False)
        if not isinstance(baseline, bool):
            raise InputError(f"{origin}: clause {cid}: baseline must be true or false")
        sources = item.get("sources") or []
        if not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources):
            raise InputError(f"{origin}: clause {cid}: sources must be a list of license ids")
        clauses.append(
            Clause(
                id=cid,
                domain=domain,
                title=_clean(item.get("title"), f"clause {cid} title"),
                text=_clean(item.get("text"), f"clause {cid} text"),
                baseline=baseline,
                sources=tuple(dict.fromkeys(sources)),
            )
        )
    return version, clauses, domains


def _read_yaml(source: Any) -> tuple[Mapping[str, Any], str]:
    if isinstance(source, Mapping):
        return source, "plugin catalogue"
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read clause catalogue {path}: {exc.strerror or exc}") from None
    try:
        return yaml.safe_load(text) or {}, str(path)
    except yaml.YAMLError as exc:
        raise InputError(f"clause catalogue {path} is not valid YAML: {str(exc).splitlines()[0]}") from None


def _build() -> Catalog:
    from ..plugins import collect

    builtin_text = (resources.files("railtrack.catalog") / "clauses.yaml").read_text(encoding="utf-8")
    version, clauses, domains = parse_catalog(yaml.safe_load(builtin_text), origin="clauses.yaml")
    seen = {c.id for c in clauses}
    extra: list[Any] = []
    for source in collect("railtrack_clause_catalogues"):
        data, origin = _read_yaml(source)
        _, more, more_domains = parse_catalog(data, origin=origin)
        for c in more:
            if c.id in seen:
                raise InputError(f"{origin}: clause id {c.id} is already defined")
            seen.add(c.id)
        for key, dom in more_domains.items():
            domains.setdefault(key, dom)
        clauses.extend(more)
        extra.append([c.to_dict() for c in more])
    if extra:
        # A catalogue extended by plugins gets a distinct version, so that a manifest records
        # exactly which clause set it was made with.
        digest = hashlib.sha256(json.dumps(extra, sort_keys=True).encode()).hexdigest()[:8]
        version = f"{version}+{digest}"
    return Catalog(version=version, clauses=tuple(clauses), domain_info=domains)


_lock = threading.Lock()
_cached: Catalog | None = None


def load_catalog(*, refresh: bool = False) -> Catalog:
    """The merged clause catalogue (cached per process; ``refresh=True`` re-reads plugins)."""
    global _cached
    with _lock:
        if _cached is None or refresh:
            _cached = _build()
        return _cached
