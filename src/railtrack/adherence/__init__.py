"""Adherence: lineage graph, obligation rules, audits of derivatives, watchlist and drift.

Public API::

    from railtrack.adherence import LineageGraph, audit, watch_add, watch_run, drift
    graph = LineageGraph.from_store(con)
    report = audit(con, "meta-llama/Llama-2-7b-chat-hf", descendants=True)
"""

from __future__ import annotations

from typing import Any

from .lineage import LineageGraph, LineageNode, Traversal

__all__ = ["LineageGraph", "LineageNode", "Traversal", "audit", "Auditor", "load_rules", "describe_rules",
           "watch_add", "watch_remove", "watch_list", "watch_run", "drift", "mutation"]


def __getattr__(name: str) -> Any:
    if name in ("audit", "Auditor", "mutation"):
        from . import audit as _audit

        return getattr(_audit, name)
    if name in ("load_rules", "describe_rules"):
        from . import rules as _rules

        return getattr(_rules, name)
    if name in ("watch_add", "watch_remove", "watch_list", "watch_run"):
        from . import watch as _watch

        return getattr(_watch, name)
    if name == "drift":
        from .drift import drift as _drift

        return _drift
    raise AttributeError(f"module 'railtrack.adherence' has no attribute {name!r}")
