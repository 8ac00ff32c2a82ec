"""Shared pieces of the reports: date filters, the empty-store hint, license families."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from ..errors import InputError, UsageError

#: The Hub's ``createdAt`` starts on this date: older models carry it as their creation date.
HUB_CREATED_AT_FLOOR = dt.date(2022, 3, 2)
HUB_CAVEAT = (
    "Hub caveat: createdAt is never earlier than 2022-03-02 - models created before then are dated "
    "2022-03-02, so that month also holds every older model."
)
EMPTY_HINT = (
    "no models in the store yet: import some with `railtrack hub import PATH...` "
    "(hub-stats/model-cards parquet, family-tree CSV), `railtrack hub import --sample` for the bundled "
    "sample, or `railtrack hub sync`"
)


class NoDataError(InputError):
    """The store holds no data for the report (exit code 2, with a hint on how to get some)."""


def parse_date(value: str | dt.date | None, name: str) -> dt.date | None:
    """``YYYY-MM-DD`` or ``YYYY-MM`` (first of the month) -> date; ``None`` passes through."""
    if value is None or isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        if len(text) == 7:
            return dt.date.fromisoformat(text + "-01")
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"invalid {name} date {value!r}; use YYYY-MM-DD or YYYY-MM") from None


def date_filter(since: Any, until: Any, column: str = "created_at") -> tuple[str, list[Any], dict[str, str | None]]:
    """SQL condition on ``column`` for ``since <= day <= until`` (inclusive), its parameters and echo."""
    s = parse_date(since, "--since")
    u = parse_date(until, "--until")
    if s and u and s > u:
        raise UsageError(f"--since {s} is after --until {u}")
    cond, params = [], []
    if s:
        cond.append(f"{column} >= ?")
        params.append(dt.datetime.combine(s, dt.time()))
    if u:
        cond.append(f"{column} < ?")
        params.append(dt.datetime.combine(u + dt.timedelta(days=1), dt.time()))
    where = " AND ".join(cond) if cond else "true"
    return where, params, {"since": s.isoformat() if s else None, "until": u.isoformat() if u else None}


def require_models(con: duckdb.DuckDBPyConnection) -> int:
    """Number of models; raise :class:`NoDataError` with the how-to hint when there are none."""
    try:
        n = int(con.execute("SELECT count(*) FROM models").fetchone()[0])
    except duckdb.CatalogException:
        raise NoDataError(EMPTY_HINT) from None
    if n == 0:
        raise NoDataError(EMPTY_HINT)
    return n


def license_info(ids: list[str]) -> dict[str, dict[str, Any]]:
    """Registry facts per license id: family, name, behavioral_use (``unknown`` when not in the registry)."""
    try:
        from ..catalog.registry import load_registry

        reg = load_registry()
    except Exception:  # registry unavailable: report declared ids only
        reg = None
    out: dict[str, dict[str, Any]] = {}
    for lid in ids:
        entry = None
        if reg is not None and lid not in ("none", "other"):
            entry = reg.get(lid) or reg.resolve(lid)
        if entry is not None:
            out[lid] = {"family": entry.family or entry.id, "name": entry.name, "behavioral_use": bool(entry.behavioral_use)}
        elif lid == "none":
            out[lid] = {"family": "none", "name": "no license declared", "behavioral_use": False}
        elif lid == "other":
            out[lid] = {"family": "other", "name": "other (see license_name)", "behavioral_use": False}
        else:
            out[lid] = {"family": "unknown", "name": None, "behavioral_use": False}
    return out


def share(part: float, whole: float) -> float:
    return round(part / whole, 6) if whole else 0.0
