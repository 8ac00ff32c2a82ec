"""The shingle index of the registry's reference texts.

Each reference text becomes a set of word 5-shingles (five consecutive normalised tokens).
An inverted index maps every shingle to the references that contain it, so a text is
scored against all references in one pass over its own shingles. For the pairwise version
decision the index also keeps, per pair of near-identical references, the shingles unique
to each side (computed on demand and cached).

The index is built from the shipped texts on first use (about 0.1-0.3 s for ~50 texts) and
kept for the life of the process (:func:`load_index`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from ..catalog.registry import LicenseEntry, Registry, load_registry
from .normalize import tokens

SHINGLE = 5

Shingle = tuple[str, ...]


def shingles(toks: list[str]) -> list[Shingle]:
    """Consecutive ``SHINGLE``-token tuples of ``toks`` (empty when shorter)."""
    return list(zip(*(toks[i:] for i in range(SHINGLE))))


@dataclass
class Reference:
    """One indexed reference text."""

    entry: LicenseEntry
    shingles: frozenset[Shingle]
    n_tokens: int

    @property
    def id(self) -> str:
        return self.entry.id


@dataclass
class LicenseIndex:
    """Inverted shingle index over the reference texts of a registry."""

    refs: list[Reference]
    postings: dict[Shingle, tuple[int, ...]]
    _diff_cache: dict[tuple[int, int], frozenset[Shingle]] = field(default_factory=dict)

    @classmethod
    def build(cls, registry: Registry) -> "LicenseIndex":
        refs: list[Reference] = []
        postings: dict[Shingle, list[int]] = {}
        for entry in registry.with_text():
            text = entry.read_text()
            if not text:
                continue
            toks = tokens(text)
            sh = frozenset(shingles(toks))
            if not sh:
                continue
            idx = len(refs)
            refs.append(Reference(entry, sh, len(toks)))
            for s in sh:
                lst = postings.get(s)
                if lst is None:
                    postings[s] = [idx]
                else:
                    lst.append(idx)
        frozen = {k: tuple(v) for k, v in postings.items()}
        return cls(refs=refs, postings=frozen)

    def only_in(self, a: int, b: int) -> frozenset[Shingle]:
        """Shingles of reference ``a`` that reference ``b`` lacks (cached)."""
        key = (a, b)
        got = self._diff_cache.get(key)
        if got is None:
            got = self.refs[a].shingles - self.refs[b].shingles
            self._diff_cache[key] = got
        return got

    def by_id(self, license_id: str) -> int | None:
        for i, r in enumerate(self.refs):
            if r.id == license_id:
                return i
        return None


@functools.lru_cache(maxsize=1)
def load_index() -> LicenseIndex:
    """The index of the current registry (built once per process)."""
    return LicenseIndex.build(load_registry())


def reset_index() -> None:
    """Forget the cached index (after the registry changed, e.g. a plugin was added)."""
    load_index.cache_clear()
