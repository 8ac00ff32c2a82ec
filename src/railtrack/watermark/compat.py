"""Detect text watermarked by transformers' own ``WatermarkingConfig`` (KGW, "lefthash").

transformers seeds each green list with ``torch.Generator(device).manual_seed(hashing_key *
previous_token)`` and takes the first ``int(vocab_size * greenlist_ratio)`` ids of
``torch.randperm(vocab_size)``. Its ``lefthash`` uses only the previous token whatever
``context_width`` says (the width still sets the n-gram used for de-duplication). Because
the lists come from the torch RNG of the generating device, this compatibility mode
reproduces text generated **on CPU**; GPU-generated text has other lists.

Detection then goes through railtrack's scorer: exact binomial p-values, repeated
n-grams scored once by default (transformers counts them unless
``ignore_repeated_ngrams=True``), and the z threshold of the caller (default 4, where
transformers defaults to 3).
"""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

import numpy as np

from ..errors import UsageError
from .detect import BulkScores, score_with


class TransformersWatermark:
    """A transformers ``WatermarkingConfig`` (lefthash) usable wherever railtrack takes a key.

    ``vocab_size`` must be the model config's ``vocab_size`` used at generation time.
    """

    def __init__(self, vocab_size: int, *, greenlist_ratio: float = 0.25, bias: float = 2.0,
                 hashing_key: int = 15485863, seeding_scheme: str = "lefthash", context_width: int = 1) -> None:
        if seeding_scheme != "lefthash":
            raise UsageError("transformers compatibility supports the lefthash seeding scheme only")
        if not 0.0 < greenlist_ratio < 1.0:
            raise UsageError("greenlist_ratio must be between 0 and 1")
        self.vocab_size = int(vocab_size)
        self.greenlist_size = int(self.vocab_size * greenlist_ratio)
        self.greenlist_ratio = float(greenlist_ratio)
        self.delta = float(bias)
        self.hashing_key = int(hashing_key)
        self.context_width = int(context_width)
        self.seeding = "lefthash"
        self._masks: dict[int, np.ndarray] = {}

    @classmethod
    def from_config(cls, config: Any, vocab_size: int) -> "TransformersWatermark":
        """From a ``transformers.WatermarkingConfig`` (or its ``to_dict()``)."""
        d = config if isinstance(config, dict) else config.to_dict()
        return cls(vocab_size, greenlist_ratio=d.get("greenlist_ratio", 0.25), bias=d.get("bias", 2.0),
                   hashing_key=d.get("hashing_key", 15485863), seeding_scheme=d.get("seeding_scheme", "lefthash"),
                   context_width=d.get("context_width", 1))

    @property
    def gamma(self) -> float:
        """The exact green fraction (``greenlist_size / vocab_size``) used for the statistics."""
        return self.greenlist_size / self.vocab_size

    @property
    def fingerprint(self) -> str:
        return "hfwm-" + hashlib.sha256(f"transformers-kgw:{self.hashing_key}".encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return (f"TransformersWatermark(fingerprint={self.fingerprint!r}, vocab_size={self.vocab_size}, "
                f"greenlist_ratio={self.greenlist_ratio}, context_width={self.context_width})")

    def params_dict(self) -> dict[str, Any]:
        return {"scheme": "transformers-kgw", "gamma": self.gamma, "delta": self.delta,
                "context_width": self.context_width, "seeding": "lefthash", "vocab_size": self.vocab_size}

    def green_list(self, previous_token: int) -> np.ndarray:
        """Bool mask over the vocabulary: transformers' green list after ``previous_token`` (CPU RNG)."""
        mask = self._masks.get(previous_token)
        if mask is None:
            import torch

            gen = torch.Generator(device="cpu")
            gen.manual_seed((self.hashing_key * int(previous_token)) % (2**64 - 1))
            perm = torch.randperm(self.vocab_size, generator=gen, device="cpu")[: self.greenlist_size]
            mask = np.zeros(self.vocab_size, dtype=bool)
            mask[perm.numpy()] = True
            self._masks[previous_token] = mask
        return mask

    def _green_fn(self, flat: np.ndarray) -> np.ndarray:
        h = self.context_width
        prev = flat[h - 1 : -1].astype(np.int64)
        cand = flat[h:].astype(np.int64)
        out = np.zeros(cand.shape[0], dtype=bool)
        uniq, inv = np.unique(prev, return_inverse=True)
        for j, p in enumerate(uniq.tolist()):
            rows = inv == j
            c = cand[rows]
            ok = c < self.vocab_size
            res = np.zeros(c.shape[0], dtype=bool)
            res[ok] = self.green_list(p)[c[ok]]
            out[rows] = res
        return out

    def score_sequences(self, seqs: Sequence[np.ndarray | Sequence[int]], *,
                        ignore_repeated_ngrams: bool = True) -> BulkScores:
        return score_with(seqs, self.context_width, self._green_fn, ignore_repeated_ngrams=ignore_repeated_ngrams)
