"""The shingle index of the registry's reference texts.

Each reference text becomes a set of word 5-shingles (five consecutive normalised tokens).
Tokens are mapped to integer ids through the vocabulary of the reference texts (a token no
reference uses gets 0 and no shingle containing it can match); a shingle is a 64-bit
polynomial key of its five token ids, computed for a whole text at once with numpy. The
distinct keys of all references, sorted, give every shingle an integer id (``searchsorted``),
and a (references x shingles) boolean membership matrix lets the matcher count, per
reference, the shingles a text shares with it in one vectorised step.

The index is built from the shipped texts on first use (a few tenths of a second for ~50
texts) and kept for the life of the process (:func:`load_index`).
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

import numpy as np
import platformdirs

from .._io import atomic_write
from ..catalog.registry import LicenseEntry, Registry, load_registry
from ..errors import InputError
from .normalize import VERSION as normalize_version_string
from .normalize import tokens


def normalize_version() -> str:
    return normalize_version_string

SHINGLE = 5
_MULT = np.uint64(0x9E3779B97F4A7C15)

Shingle = tuple[str, ...]


def shingles(toks: list[str]) -> list[Shingle]:
    """Consecutive ``SHINGLE``-token tuples of ``toks`` (empty when shorter)."""
    return list(zip(*(toks[i:] for i in range(SHINGLE))))


def shingle_keys(tids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(64-bit keys, validity) of every window of ``SHINGLE`` token ids; a window with an unknown token (0) is invalid."""
    n = len(tids) - SHINGLE + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=bool)
    t = tids.astype(np.uint64)
    keys = t[0:n].copy()
    valid = tids[0:n] > 0
    with np.errstate(over="ignore"):
        for j in range(1, SHINGLE):
            keys = keys * _MULT + t[j:j + n]
            valid &= tids[j:j + n] > 0
    return keys, valid


@dataclass
class Reference:
    """One indexed reference text (its shingles as integer ids)."""

    entry: LicenseEntry
    shingles: frozenset[int]
    n_tokens: int
    order: np.ndarray | None = None      # shingle ids in text order (first occurrence)

    @property
    def id(self) -> str:
        return self.entry.id


@dataclass
class LicenseIndex:
    """Shingle index over the reference texts of a registry."""

    refs: list[Reference]
    vocab: dict[str, int]                # token -> id (1..V); unknown tokens are 0
    skeys: np.ndarray                    # sorted distinct shingle keys; position = shingle id
    post: list[tuple[int, ...]]          # shingle id -> references containing it
    member: np.ndarray                   # (references x shingle ids) boolean membership
    sizes: np.ndarray                    # shingles per reference
    member_t: np.ndarray | None = None   # (shingle ids x references), C-contiguous rows
    _diff_cache: dict[tuple[int, int], frozenset[int]] = field(default_factory=dict)
    _mask_cache: dict[tuple[int, int], tuple[np.ndarray, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.member_t is None:
            self.member_t = np.ascontiguousarray(self.member.T).astype(np.int32)

    @classmethod
    def build(cls, registry: Registry) -> "LicenseIndex":
        vocab: dict[str, int] = {}
        per_ref: list[tuple[LicenseEntry, np.ndarray, int]] = []
        for entry in registry.with_text():
            text = entry.read_text()
            if not text:
                continue
            toks = tokens(text)
            for t in toks:
                if t not in vocab:
                    vocab[t] = len(vocab) + 1
            tids = np.fromiter((vocab[t] for t in toks), dtype=np.int64, count=len(toks))
            keys, valid = shingle_keys(tids)
            seq = keys[valid]
            keys = np.unique(seq)
            if len(keys):
                _, first = np.unique(seq, return_index=True)
                per_ref.append((entry, keys, len(toks), seq[np.sort(first)]))
        skeys = np.unique(np.concatenate([k for _, k, _, _ in per_ref])) if per_ref else np.zeros(0, np.uint64)
        member = np.zeros((len(per_ref), len(skeys)), dtype=bool)
        refs: list[Reference] = []
        post: list[list[int]] = [[] for _ in range(len(skeys))]
        for i, (entry, keys, n_tok, seq) in enumerate(per_ref):
            sids = np.searchsorted(skeys, keys)
            member[i, sids] = True
            refs.append(Reference(entry, frozenset(sids.tolist()), n_tok, np.searchsorted(skeys, seq)))
            for s in sids.tolist():
                post[s].append(i)
        return cls(refs=refs, vocab=vocab, skeys=skeys, post=[tuple(p) for p in post],
                   member=member, sizes=member.sum(axis=1))

    def lookup(self, toks: list[str]) -> np.ndarray:
        """Shingle ids of the windows of ``toks`` (-1 where the shingle is in no reference)."""
        n = len(toks) - SHINGLE + 1
        if n <= 0 or not len(self.skeys):
            return np.full(max(0, n), -1, dtype=np.int64)
        tids = np.fromiter(map(self.vocab.get, toks, repeat(0)), dtype=np.int64, count=len(toks))
        keys, valid = shingle_keys(tids)
        idx = np.searchsorted(self.skeys, keys)
        idx[idx >= len(self.skeys)] = 0
        found = valid & (self.skeys[idx] == keys)
        return np.where(found, idx, -1).astype(np.int64)

    def only_in(self, a: int, b: int) -> frozenset[int]:
        """Shingle ids of reference ``a`` that reference ``b`` lacks (cached)."""
        key = (a, b)
        got = self._diff_cache.get(key)
        if got is None:
            got = self.refs[a].shingles - self.refs[b].shingles
            self._diff_cache[key] = got
        return got

    def only_mask(self, a: int, b: int) -> tuple[np.ndarray, int]:
        """(mask over shingle ids, count) of the shingles reference a has and b lacks (cached)."""
        key = (a, b)
        got = self._mask_cache.get(key)
        if got is None:
            m = self.member[a] & ~self.member[b]
            got = self._mask_cache[key] = (m, int(m.sum()))
        return got

    def by_id(self, license_id: str) -> int | None:
        for i, r in enumerate(self.refs):
            if r.id == license_id:
                return i
        return None


INDEX_FORMAT = "1"  # bump when the index layout or normalisation changes


def _fingerprint(registry: Registry) -> str:
    """Hash of everything the index is built from: format, tokeniser, ids and reference texts."""
    h = hashlib.sha256(f"{INDEX_FORMAT}|{SHINGLE}|{normalize_version()}".encode())
    for entry in registry.with_text():
        h.update(entry.id.encode() + b"\0")
        try:
            h.update(entry.text_path.read_bytes())
        except OSError:
            h.update(b"<missing>")
    return h.hexdigest()[:24]


def _cache_path(fingerprint: str) -> Path:
    return Path(platformdirs.user_cache_dir("railtrack", appauthor=False)) / f"identify-index-{fingerprint}.pkl"


def _save(index: LicenseIndex, path: Path) -> None:
    payload = {
        "ids": [r.id for r in index.refs],
        "n_tokens": [r.n_tokens for r in index.refs],
        "order": [r.order for r in index.refs],
        "vocab": index.vocab,
        "skeys": index.skeys,
        "member": np.packbits(index.member, axis=1),
        "n_sids": index.member.shape[1],
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
    except (OSError, InputError):
        pass  # a read-only cache folder only costs the next process a rebuild


def _load(path: Path, registry: Registry) -> LicenseIndex | None:
    try:
        payload = pickle.loads(path.read_bytes())
        member = np.unpackbits(payload["member"], axis=1, count=payload["n_sids"]).astype(bool)
        refs = []
        for i, lid in enumerate(payload["ids"]):
            entry = registry.get(lid)
            if entry is None:
                return None
            sids = np.flatnonzero(member[i])
            refs.append(Reference(entry, frozenset(sids.tolist()), payload["n_tokens"][i], payload["order"][i]))
        post_lists: list[list[int]] = [[] for _ in range(member.shape[1])]
        for i in range(len(refs)):
            for sid in np.flatnonzero(member[i]).tolist():
                post_lists[sid].append(i)
        return LicenseIndex(refs=refs, vocab=payload["vocab"], skeys=payload["skeys"],
                            post=[tuple(p) for p in post_lists], member=member, sizes=member.sum(axis=1))
    except Exception:  # noqa: BLE001 - a corrupt or foreign cache file is rebuilt
        return None


_current: list = [None, None]  # [registry object, its index]


def load_index() -> LicenseIndex:
    """The index of the current registry: from the user cache when its fingerprint matches, else built.

    Kept per process for the registry object it was built from: when the registry is
    reloaded (``load_registry.cache_clear()``, e.g. after a plugin was installed) the index
    follows. The on-disk cache (``identify-index-<fingerprint>.pkl`` in
    ``platformdirs.user_cache_dir("railtrack")``) is keyed by the reference texts, the registry
    ids and the index format, so a changed text, a plugin license or a new railtrack version
    builds (and caches) a new one.
    """
    registry = load_registry()
    if _current[0] is registry and _current[1] is not None:
        return _current[1]
    index = _load_or_build(registry)
    _current[0], _current[1] = registry, index
    return index


def _load_or_build(registry: Registry) -> LicenseIndex:
    fingerprint = _fingerprint(registry)
    path = _cache_path(fingerprint)
    if path.exists():
        index = _load(path, registry)
        if index is not None:
            return index
    index = LicenseIndex.build(registry)
    _save(index, path)
    return index


def reset_index() -> None:
    """Forget the in-process index (the next :func:`load_index` loads or builds it again)."""
    _current[0] = _current[1] = None
