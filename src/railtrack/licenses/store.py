"""Recording generated licenses in the store (table ``generated_licenses``).

Every ``railtrack license new`` records its manifest, so that a license can be shown and
re-rendered byte-identically later (``railtrack license show ID``) and reports can count
which clause configurations owners choose.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from ..errors import InputError, NotFoundError
from .manifest import LicenseSpec, canonical_json, license_id, parse_manifest, title

__all__ = ["record", "record_many", "get", "list_licenses", "clause_counts"]

_ID_RE_TEXT = "rt-" + "[0-9a-f]" * 12


_COLUMNS = ("license_id, title, name, licensor, flavor, artifacts, restrictions, custom_count, domains, "
            "catalog_version, template_version, manifest")


def _row(spec: LicenseSpec) -> list[Any]:
    return [
        license_id(spec),
        title(spec),
        spec.name,
        spec.licensor,
        spec.flavor,
        list(spec.artifacts),
        list(spec.restrictions),
        len(spec.custom_restrictions),
        spec.domains(),
        spec.catalog_version,
        spec.template_version,
        canonical_json(spec),
    ]


def _begin(con: Any) -> bool:
    """Open a transaction on ``con``; False when the caller already has one open (then join it).

    DuckDB has no "in a transaction?" query, and a failed ``BEGIN`` would abort the caller's
    transaction; but inside a transaction every statement sees the same transaction id, while
    in auto-commit mode each statement is a transaction of its own with a new id."""
    first = con.execute("SELECT current_transaction_id()").fetchone()[0]
    if con.execute("SELECT current_transaction_id()").fetchone()[0] == first:
        return False
    con.execute("BEGIN TRANSACTION")
    return True


def record_many(con: Any, specs: Iterable[LicenseSpec]) -> list[tuple[str, bool]]:
    """Record several manifests in one transaction; ``[(id, newly_recorded), ...]`` in input order.

    Idempotent: a license already in the store (or repeated in ``specs``) is left as it is -
    ids are content hashes, so the recorded row could only be identical - and keeps its first
    ``created_at``. Existing ids are looked up first and only new rows are inserted (a plain
    ``INSERT`` is several times cheaper in DuckDB than ``INSERT ... ON CONFLICT``). When the
    caller has a transaction open on ``con`` the work joins it (the caller commits or rolls
    back); otherwise it is one transaction of its own, rolled back on any error.
    """
    rows = [_row(s) for s in specs]
    if not rows:
        return []
    own = _begin(con)
    try:
        ids = list(dict.fromkeys(r[0] for r in rows))
        placeholders = ", ".join("?" * len(ids))
        existing = {r[0] for r in con.execute(
            f"SELECT license_id FROM generated_licenses WHERE license_id IN ({placeholders})", ids).fetchall()}
        out: list[tuple[str, bool]] = []
        new: list[list[Any]] = []
        for r in rows:
            lid = r[0]
            created = lid not in existing
            if created:
                existing.add(lid)
                new.append(r)
            out.append((lid, created))
        if new:
            values = ", ".join(["(" + ", ".join("?" * len(new[0])) + ")"] * len(new))
            con.execute(f"INSERT INTO generated_licenses ({_COLUMNS}) VALUES {values}",
                        [v for r in new for v in r])
        if own:
            con.execute("COMMIT")
    except BaseException:
        if own:
            con.execute("ROLLBACK")
        raise
    return out


def record(con: Any, spec: LicenseSpec) -> str:
    """Record ``spec`` in ``generated_licenses`` if it is not there yet; return its id.

    One transaction: an existence check, then a plain insert of a new license. Recording the
    same manifest again changes nothing (it keeps the first ``created_at``). A transaction the
    caller has open on ``con`` is joined. See :func:`record_many` for several at once.
    """
    return record_many(con, [spec])[0][0]


def _normalise_id(license_id_: str) -> str:
    lid = license_id_.strip().lower()
    if not lid.startswith("rt-"):
        lid = "rt-" + lid
    return lid


def get(con: Any, license_id_: str) -> LicenseSpec:
    """The manifest recorded under ``license_id_`` (``rt-`` + 12 hex; the ``rt-`` may be left out).

    A unique prefix of at least 4 hex digits is accepted too. Raises :class:`NotFoundError`.
    """
    lid = _normalise_id(license_id_)
    rows = con.execute("SELECT manifest FROM generated_licenses WHERE license_id = ?", [lid]).fetchall()
    if not rows and len(lid) >= 7:
        rows = con.execute(
            "SELECT manifest FROM generated_licenses WHERE starts_with(license_id, ?) LIMIT 2", [lid]
        ).fetchall()
        if len(rows) > 1:
            raise InputError(f"license id prefix {license_id_!r} is ambiguous; give more digits")
    if not rows:
        raise NotFoundError(f"no generated license {license_id_!r} in the store (see `railtrack license list`)")
    data = rows[0][0]
    return parse_manifest(json.loads(data) if isinstance(data, str) else data)


def list_licenses(con: Any, limit: int | None = None) -> list[dict[str, Any]]:
    """Recorded licenses, newest first: ``{license_id, title, flavor, artifacts, restrictions, ...}``."""
    sql = (
        "SELECT license_id, title, name, licensor, flavor, artifacts, restrictions, custom_count, domains, "
        "catalog_version, template_version, created_at FROM generated_licenses "
        "ORDER BY created_at DESC, license_id"
    )
    params: list[Any] = []
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    cols = ["license_id", "title", "name", "licensor", "flavor", "artifacts", "restrictions", "custom_count",
            "domains", "catalog_version", "template_version", "created_at"]
    out = []
    for row in con.execute(sql, params).fetchall():
        item = dict(zip(cols, row))
        item["created_at"] = item["created_at"].isoformat() if item["created_at"] is not None else None
        out.append(item)
    return out


def clause_counts(con: Any) -> list[tuple[str, int]]:
    """How many recorded licenses include each catalogue clause, most chosen first."""
    rows = con.execute(
        "SELECT r, count(*) AS n FROM (SELECT unnest(restrictions) AS r FROM generated_licenses) "
        "GROUP BY r ORDER BY n DESC, r"
    ).fetchall()
    return [(r, int(n)) for r, n in rows]
