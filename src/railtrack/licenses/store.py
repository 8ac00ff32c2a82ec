"""Recording generated licenses in the store (table ``generated_licenses``).

Every ``railtrack license new`` records its manifest, so that a license can be shown and
re-rendered byte-identically later (``railtrack license show ID``) and reports can count
which clause configurations owners choose.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import InputError, NotFoundError
from .manifest import LicenseSpec, canonical_json, license_id, parse_manifest, title

__all__ = ["record", "get", "list_licenses", "clause_counts"]

_ID_RE_TEXT = "rt-" + "[0-9a-f]" * 12


def record(con: Any, spec: LicenseSpec) -> str:
    """Insert or update ``spec`` in ``generated_licenses`` (one atomic statement); return its id.

    Re-recording the same manifest keeps the first ``created_at``.
    """
    lid = license_id(spec)
    row = [
        lid,
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
    # one statement: atomic on its own, and part of the caller's transaction when one is open
    con.execute(
        """
        INSERT INTO generated_licenses (license_id, title, name, licensor, flavor, artifacts, restrictions,
                                        custom_count, domains, catalog_version, template_version, manifest)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (license_id) DO UPDATE SET
            title = excluded.title, name = excluded.name, licensor = excluded.licensor,
            flavor = excluded.flavor, artifacts = excluded.artifacts, restrictions = excluded.restrictions,
            custom_count = excluded.custom_count, domains = excluded.domains,
            catalog_version = excluded.catalog_version, template_version = excluded.template_version,
            manifest = excluded.manifest
        """,
        row,
    )
    return lid


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
