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

import numpy as np

from ..catalog.registry import LicenseEntry, Registry, load_registry
from .normalize import tokens

SHINGLE = 5

Shingle = tuple[str, ...]


def shingles(toks: list[str]) -> list[Shingle]:
    """Consecutive ``SHINGLE``-token tuples of ``toks`` (empty when shorter)."""
    return list(zip(*(toks[i:] for i in range(SHINGLE))))


@dataclass
class Reference:
    """One indexed reference text (its shingles as integer ids)."""

    entry: LicenseEntry
    shingles: frozenset[int]
    n_tokens: int

    @property
    def id(self) -> str:
        return self.entry.id


@dataclass
class LicenseIndex:
    """Inverted shingle index over the reference texts of a registry."""

    refs: list[Reference]
    sid: dict[Shingle, int]              # shingle -> integer id
    post: list[tuple[int, ...]]          # shingle id -> references containing it
    _diff_cache: dict[tuple[int, int], frozenset[int]] = field(default_factory=dict)
    member: np.ndarray | None = None     # (references x shingle ids) boolean membership
    sizes: np.ndarray | None = None      # shingles per reference
    _mask_cache: dict[tuple[int, int], tuple[np.ndarray, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.member is None:
            member = np.zeros((len(self.refs), len(self.post)), dtype=bool)
            for i, ref in enumerate(self.refs):
                member[i, np.fromiter(ref.shingles, dtype=np.int64, count=len(ref.shingles))] = True
            self.member = member
            self.sizes = member.sum(axis=1)

    def only_mask(self, a: int, b: int) -> tuple[np.ndarray, int]:
        """(mask over shingle ids, count) of the shingles reference a has and b lacks (cached)."""
        key = (a, b)
        got = self._mask_cache.get(key)
        if got is None:
            m = self.member[a] & ~self.member[b]
            got = self._mask_cache[key] = (m, int(m.sum()))
        return got

    @classmethod
    def build(cls, registry: Registry) -> "LicenseIndex":
        refs: list[Reference] = []
        sid: dict[Shingle, int] = {}
        post: list[list[int]] = []
        for entry in registry.with_text():
            text = entry.read_text()
            if not text:
                continue
            toks = tokens(text)
            ids = set()
            for s in shingles(toks):
                i = sid.get(s)
                if i is None:
                    i = sid[s] = len(post)
                    post.append([])
                ids.add(i)
            if not ids:
                continue
            idx = len(refs)
            refs.append(Reference(entry, frozenset(ids), len(toks)))
            for i in ids:
                post[i].append(idx)
        return cls(refs=refs, sid=sid, post=[tuple(p) for p in post])

    def only_in(self, a: int, b: int) -> frozenset[int]:
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
