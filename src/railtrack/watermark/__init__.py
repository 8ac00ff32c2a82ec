"""Text watermarking evidence: keyed green lists, watermarked generation, detection, corpus scans.

Public API::

    from railtrack.watermark import WatermarkKey, WatermarkLogitsProcessor, detect, scan
    key = WatermarkKey.generate(gamma=0.25, delta=2.0)
    det = detect(text, key, tokenizer)      # Detection(watermarked, z_score, p_value, ...)

See ``docs/watermark.md`` for the PRF, the statistics and the evidence report.
"""

from __future__ import annotations

from .detect import (Detection, WindowResult, binomial_p_values, detect, detect_ids, detect_ids_many,
                     detect_many, token_flags, token_mask, windowed, z_scores)
from .keys import WatermarkKey, WatermarkParams
from .scan import Document, benjamini_hochberg, read_corpus, render_markdown, scan, write_report

detect_watermark = detect  # names re-exported by the top-level ``railtrack`` package
scan_watermark = scan

__all__ = [
    "detect_watermark", "scan_watermark",
    "Detection", "Document", "WatermarkKey", "WatermarkLogitsProcessor", "WatermarkParams", "WindowResult",
    "benjamini_hochberg", "binomial_p_values", "detect", "detect_ids", "detect_ids_many", "detect_many",
    "read_corpus", "render_markdown", "scan", "token_flags", "token_mask", "windowed", "write_report", "z_scores",
]


def __getattr__(name: str):  # transformers is imported only when the processor is needed
    if name == "WatermarkLogitsProcessor":
        from .processor import WatermarkLogitsProcessor

        return WatermarkLogitsProcessor
    raise AttributeError(f"module 'railtrack.watermark' has no attribute {name!r}")
