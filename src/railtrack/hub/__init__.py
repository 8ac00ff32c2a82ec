"""Hugging Face Hub metadata sources: family trees, hub-stats and model-cards dumps, local
repos and a live, incremental, resumable sync. Everything lands in the DuckDB store.

Public API::

    from railtrack.hub import import_paths, sync, parse_card
    result = import_paths(con, ["models.parquet"], fmt="auto", snapshot_date=None)
"""

from __future__ import annotations

from typing import Any

from .cards import ParsedCard, parse_card
from .importers import FORMATS, detect_format, import_path, import_paths
from .stage import ImportResult

__all__ = ["FORMATS", "ImportResult", "ParsedCard", "detect_format", "import_path", "import_paths",
           "parse_card", "reclassify", "sync"]


def sync(*args: Any, **kwargs: Any) -> Any:
    """Live incremental sync from the Hub API; see :func:`railtrack.hub.sync.sync`."""
    from .live import sync as _sync

    return _sync(*args, **kwargs)


def reclassify(con: Any) -> int:
    """Recompute ``behavioral_use`` for every stored model; see :mod:`railtrack.hub.classify`."""
    from .classify import reclassify as _reclassify

    return _reclassify(con)
