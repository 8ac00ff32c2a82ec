"""Weight provenance: tell whether a model's weights were derived from a licensed base model.

Public API::

    from railtrack.provenance import compare, scan
    result = compare("path/to/base", "path/to/suspect")
    result.verdict  # "derived" | "independent" | "inconclusive"

See ``docs/provenance.md`` for the statistic, the null model and the exact p-value.
"""

from __future__ import annotations

from .align import GROUPS, AlignedTensor, Layout, describe, layout_of
from .compare import (VERDICTS, BaseProfile, CompareOptions, Comparison, LayerRow, compare,
                      compare_profile, find_candidates, scan)
from .loading import Checkpoint, TensorInfo, open_checkpoint, widen_bf16

#: top-level names (``railtrack.compare_weights``), distinct from other packages' ``scan``
compare_weights = compare
scan_weights = scan

__all__ = [
    "GROUPS", "AlignedTensor", "Layout", "layout_of", "describe",
    "VERDICTS", "BaseProfile", "CompareOptions", "Comparison", "LayerRow", "compare",
    "compare_profile", "find_candidates", "scan", "compare_weights", "scan_weights",
    "Checkpoint", "TensorInfo", "open_checkpoint", "widen_bf16",
]
