"""Reports on the store: license adoption, top licenses, clause convergence; charts and HTML.

Library functions return plain dicts (JSON-ready) so the CLI and the web app share them::

    from railtrack.reports import adoption, licenses_report, clauses_report
    data = adoption(con, since="2023-01", until=None)
"""

from __future__ import annotations

from .adoption import adoption
from .clauses import clauses_report
from .common import HUB_CAVEAT, NoDataError
from .licenses import licenses_report

__all__ = ["HUB_CAVEAT", "NoDataError", "adoption", "clauses_report", "licenses_report"]
