"""The generation side: a ``transformers`` logits processor that adds ``delta`` to green logits.

Batched and vectorised: one call computes the green masks of every row of the batch. Two
backends compute the same masks bit for bit (see :mod:`railtrack.watermark.prf`):

* ``"numpy"`` (default on CPU): masks are computed with numpy's wrapping uint32 arithmetic
  and cached per context (an LRU of packed bit masks keyed by the context ids; with h = 1
  most steps hit the cache), then moved to the logits' device;
* ``"torch"`` (default on CUDA and other accelerators): masks are computed on the logits'
  device with exact int64 arithmetic, so nothing is copied between host and device.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from .keys import WatermarkKey
from .prf import green_mask_np, green_mask_torch

try:  # transformers is an optional (ml) dependency
    from transformers import LogitsProcessor as _Base
except Exception:  # pragma: no cover - exercised only without transformers
    _Base = object  # type: ignore[assignment,misc]


class WatermarkLogitsProcessor(_Base):  # type: ignore[misc,valid-type]
    """Add ``key.delta`` to the logits of the green tokens of each row's context.

    Use it as ``model.generate(..., logits_processor=LogitsProcessorList([proc]))``. Rows
    shorter than the context width are left unchanged. ``vocab_size`` defaults to the
    width of the logits (the model's padded vocabulary); ids beyond the tokenizer's
    vocabulary are never generated in practice and are scored like any other id.
    """

    def __init__(self, key: WatermarkKey, *, backend: str = "auto", cache_size: int = 8192) -> None:
        if backend not in ("auto", "numpy", "torch"):
            raise ValueError("backend must be auto, numpy or torch")
        self.key = key
        self.backend = backend
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.cache_hits = 0
        self.cache_misses = 0

    def __repr__(self) -> str:
        return f"WatermarkLogitsProcessor(key={self.key!r}, backend={self.backend!r})"

    def green_mask(self, input_ids: Any, vocab_size: int) -> Any:
        """Bool tensor (batch, vocab_size) of green tokens for the last ``h`` ids of each row."""
        import torch

        h = self.key.context_width
        ctx = input_ids[:, -h:]
        backend = self.backend
        if backend == "auto":
            backend = "numpy" if ctx.device.type == "cpu" else "torch"
        if backend == "torch" or self.key.seeding == "selfhash":
            return green_mask_torch(ctx, vocab_size, self.key.seeding, self.key.gamma, self.key.words)
        ctx_np = ctx.detach().to("cpu").numpy().astype(np.uint32)
        rows = np.empty((ctx_np.shape[0], vocab_size), dtype=bool)
        missing: list[int] = []
        for i in range(ctx_np.shape[0]):
            k = ctx_np[i].tobytes() + vocab_size.to_bytes(4, "little")
            packed = self._cache.get(k)
            if packed is None:
                missing.append(i)
            else:
                self._cache.move_to_end(k)
                self.cache_hits += 1
                rows[i] = np.unpackbits(packed, count=vocab_size).view(bool)
        if missing:
            self.cache_misses += len(missing)
            fresh = green_mask_np(ctx_np[missing], vocab_size, self.key.seeding, self.key.gamma, self.key.words)
            rows[missing] = fresh
            for j, i in enumerate(missing):
                k = ctx_np[i].tobytes() + vocab_size.to_bytes(4, "little")
                self._cache[k] = np.packbits(fresh[j])
                if len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return torch.from_numpy(rows).to(input_ids.device)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if input_ids.shape[-1] < self.key.context_width or self.key.delta == 0:
            return scores
        mask = self.green_mask(input_ids, scores.shape[-1])
        return scores + mask.to(scores.dtype) * self.key.delta
