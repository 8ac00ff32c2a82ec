"""The keyed, device-independent pseudo-random function that defines green lists.

Everything here is plain 32-bit integer arithmetic (murmur3's ``fmix32`` finaliser with
key-derived secrets), so the green list of a context is a pure function of the key, the
context token ids and the candidate token id. It never touches a random-number generator,
so numpy on the CPU and torch on any device (CPU or CUDA) compute exactly the same lists;
``tests/test_watermark_prf.py`` and ``benchmarks/watermark_gpu.py`` check this.

Definition (version 1, ``PRF_VERSION``)::

    k0, k1, k2, k3 = four little-endian uint32 words of BLAKE2b-128(key, person="rt-wm-prf-v1")
    fmix32(x)      = murmur3 finaliser (bijective on 32-bit words)
    th(t)          = fmix32(t xor k1)                 # keyed token hash
    lefthash seed  = s_0 = k0;  s_j = fmix32(s_{j-1} xor th(c_j)), j = 1..h, c_1 oldest
    selfhash seed  = fmix32(k0 xor th(v) xor min_j th(c_j))   # anchored min-hash over the
                                                                 # h context tokens, salted
                                                                 # with the candidate v
    score(s, v)    = fmix32(fmix32(s xor fmix32(v xor k2)) + k3)
    v is green     iff score(s, v) < round(gamma * 2**32)

For any fixed context and candidate, a uniformly random key makes ``v`` green with
probability ``gamma`` (to 2**-32), independently of the text: the null hypothesis of the
detector. This is a fast keyed mixing function, not a cryptographic MAC: it keeps green
lists secret from people who do not hold the key at the level watermarking needs, and it
is fast enough to score millions of tokens per second in numpy.
"""

from __future__ import annotations

from collections import OrderedDict

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

PRF_VERSION = 1
SEEDING_SCHEMES = ("lefthash", "selfhash")

_M32 = 0xFFFFFFFF
_C1 = 0x85EBCA6B
_C2 = 0xC2B2AE35


def derive_words(secret: bytes) -> tuple[int, int, int, int]:
    """The four 32-bit PRF words derived from a key's secret bytes."""
    digest = hashlib.blake2b(secret, digest_size=16, person=b"rt-wm-prf-v1").digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))  # type: ignore[return-value]


def threshold(gamma: float) -> int:
    """The 32-bit score threshold below which a token is green."""
    return int(round(gamma * 2**32))


# --------------------------------------------------------------------------- numpy

def fmix32_np(x: np.ndarray) -> np.ndarray:
    """murmur3 fmix32 on a uint32 array (wrapping multiplication)."""
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(_C1)
    x ^= x >> np.uint32(13)
    x *= np.uint32(_C2)
    x ^= x >> np.uint32(16)
    return x


def token_hash_np(ids: np.ndarray, words: tuple[int, int, int, int]) -> np.ndarray:
    return fmix32_np(ids.astype(np.uint32, copy=False) ^ np.uint32(words[1]))


def score_np(seeds: np.ndarray, ids: np.ndarray, words: tuple[int, int, int, int]) -> np.ndarray:
    """``score(s, v)`` for aligned (broadcastable) uint32 arrays of seeds and token ids."""
    vh = fmix32_np(ids.astype(np.uint32, copy=False) ^ np.uint32(words[2]))
    return fmix32_np(fmix32_np(seeds ^ vh) + np.uint32(words[3]))


def lefthash_seeds_np(contexts: list[np.ndarray], words: tuple[int, int, int, int]) -> np.ndarray:
    """Seeds for aligned context columns ``contexts[j]`` (oldest first), each a uint32 array."""
    seeds = np.full(contexts[0].shape, words[0], dtype=np.uint32)
    for col in contexts:
        seeds = fmix32_np(seeds ^ token_hash_np(col, words))
    return seeds


def selfhash_seeds_np(contexts: list[np.ndarray], cand: np.ndarray, words: tuple[int, int, int, int]) -> np.ndarray:
    m = token_hash_np(contexts[0], words)
    for col in contexts[1:]:
        m = np.minimum(m, token_hash_np(col, words))
    return fmix32_np(np.uint32(words[0]) ^ token_hash_np(cand, words) ^ m)


def green_positions_np(ids: np.ndarray, width: int, seeding: str, gamma: float,
                       words: tuple[int, int, int, int]) -> np.ndarray:
    """Green flags for positions ``width .. len(ids)-1`` of one id sequence (bool array).

    Position ``i`` is scored with the ``width`` tokens before it as its context.
    """
    ids = np.ascontiguousarray(ids, dtype=np.uint32)
    n = ids.shape[0] - width
    if n <= 0:
        return np.zeros(0, dtype=bool)
    cols = [ids[j : j + n] for j in range(width)]
    cand = ids[width:]
    if seeding == "lefthash":
        seeds = lefthash_seeds_np(cols, words)
    elif seeding == "selfhash":
        seeds = selfhash_seeds_np(cols, cand, words)
    else:
        raise ValueError(f"unknown seeding scheme {seeding!r}")
    return score_np(seeds, cand, words) < np.uint32(min(threshold(gamma), _M32))


def green_mask_np(contexts: np.ndarray, vocab_size: int, seeding: str, gamma: float,
                  words: tuple[int, int, int, int]) -> np.ndarray:
    """Green masks over the whole vocabulary for a batch of contexts.

    ``contexts`` is an integer array of shape (batch, width), oldest token first. Returns
    a bool array of shape (batch, vocab_size).
    """
    ctx = np.ascontiguousarray(contexts, dtype=np.uint32)
    vocab = np.arange(vocab_size, dtype=np.uint32)
    cols = [ctx[:, j : j + 1] for j in range(ctx.shape[1])]
    if seeding == "lefthash":
        seeds = lefthash_seeds_np(cols, words)  # (B, 1)
    elif seeding == "selfhash":
        seeds = selfhash_seeds_np(cols, vocab[None, :], words)  # (B, V)
    else:
        raise ValueError(f"unknown seeding scheme {seeding!r}")
    return score_np(seeds, vocab[None, :], words) < np.uint32(min(threshold(gamma), _M32))


# --------------------------------------------------------------------------- torch

def _mul32_t(x: "torch.Tensor", c: int) -> "torch.Tensor":
    """``x * c mod 2**32`` for int64 tensors holding values in [0, 2**32), without overflow."""
    lo, hi = c & 0xFFFF, c >> 16
    return (x * lo + (((x * hi) & 0xFFFF) << 16)) & _M32


def fmix32_t(x: "torch.Tensor") -> "torch.Tensor":
    x = x ^ (x >> 16)
    x = _mul32_t(x, _C1)
    x = x ^ (x >> 13)
    x = _mul32_t(x, _C2)
    return x ^ (x >> 16)


_VOCAB_HASHES: "OrderedDict[tuple[str, int, int], tuple[Any, Any]]" = OrderedDict()


def _vocab_hashes(device: Any, vocab_size: int, k2: int) -> tuple[Any, Any]:
    """``(vocab ids, fmix32(vocab ^ k2))`` on ``device``: the same for every generation step,
    so they are computed once per device, vocabulary size and key (a small LRU) instead of
    re-launching their kernels at every step. Holds a hash of the key, never the key."""
    import torch

    cache_key = (str(device), int(vocab_size), int(k2))
    hit = _VOCAB_HASHES.get(cache_key)
    if hit is not None:
        _VOCAB_HASHES.move_to_end(cache_key)
        return hit
    vocab = torch.arange(vocab_size, dtype=torch.int64, device=device)[None, :]
    value = (vocab, fmix32_t(vocab ^ k2))
    _VOCAB_HASHES[cache_key] = value
    while len(_VOCAB_HASHES) > 8:
        _VOCAB_HASHES.popitem(last=False)
    return value


def green_mask_torch(contexts: "torch.Tensor", vocab_size: int, seeding: str, gamma: float,
                     words: tuple[int, int, int, int]) -> "torch.Tensor":
    """The same masks as :func:`green_mask_np`, computed by torch on ``contexts.device``.

    Only exact int64 arithmetic on values below 2**48 is used, so every device gives the
    same bits.
    """
    import torch

    ctx = contexts.to(torch.int64) & _M32
    k0, k1, k2, k3 = words
    vocab, vh = _vocab_hashes(ctx.device, vocab_size, k2)

    def th(t: "torch.Tensor") -> "torch.Tensor":
        return fmix32_t(t ^ k1)

    if seeding == "lefthash":
        seeds = torch.full((ctx.shape[0], 1), k0, dtype=torch.int64, device=ctx.device)
        for j in range(ctx.shape[1]):
            seeds = fmix32_t(seeds ^ th(ctx[:, j : j + 1]))
    elif seeding == "selfhash":
        m = th(ctx).min(dim=1, keepdim=True).values
        seeds = fmix32_t(k0 ^ th(vocab) ^ m)
    else:
        raise ValueError(f"unknown seeding scheme {seeding!r}")
    score = fmix32_t((fmix32_t(seeds ^ vh) + k3) & _M32)
    return score < threshold(gamma)


def describe(words: Any = None) -> dict[str, Any]:
    """A JSON-able description of the PRF for evidence reports (no key material)."""
    return {
        "name": "railtrack-fmix32-prf",
        "version": PRF_VERSION,
        "key_derivation": "BLAKE2b-128(key, person='rt-wm-prf-v1') -> 4 x uint32",
        "mixing": "murmur3 fmix32",
    }
