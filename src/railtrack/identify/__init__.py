"""Identify AI licenses in any text and extract the use restrictions they contain.

Public API::

    from railtrack.identify import identify_text, identify_paths, extract_clauses, parse_generated
    ident = identify_text(open("LICENSE").read())
    ident.license, ident.version, ident.score, ident.margin, ident.coverage
    [s.to_dict() for s in ident.spans]           # where each license / AUP sits
    [c.clause_id for c in extract_clauses(text)] # catalogue clause ids found
    parse_generated(text)                        # railtrack / RAIL Generator licenses -> manifest

See ``docs/identify.md`` for the algorithm and its guarantees.
"""

from __future__ import annotations

from .api import (
    STATUSES,
    Identification,
    declared_license,
    identify_file,
    identify_paths,
    identify_text,
    iter_license_files,
)
from .clauses import ClauseHit, extract_clauses
from .generated import GeneratedLicense, parse_generated
from .index import load_index
from .matcher import Candidate, Span

__all__ = [
    "STATUSES",
    "Candidate",
    "ClauseHit",
    "GeneratedLicense",
    "Identification",
    "Span",
    "declared_license",
    "extract_clauses",
    "identify_file",
    "identify_paths",
    "identify_text",
    "iter_license_files",
    "load_index",
    "parse_generated",
]
