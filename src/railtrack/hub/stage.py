"""The shared import pipeline: every source fills a staging table, one SQL step commits it.

Each importer (trees, hub-stats, model-cards, local, live sync) only turns its input into
rows of the staging table :data:`STAGE_COLUMNS` (plus optional card texts and tree
edges). :func:`commit_stage` then applies the reconciliation rule (see
:mod:`railtrack.hub.reconcile`) in DuckDB SQL and writes ``snapshots``,
``model_observations``, ``models``, ``base_models``, ``metadata_conflicts``,
``model_cards`` and ``import_runs`` inside the caller's single transaction, so an import
is all-or-nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import duckdb

from . import reconcile

#: Staging table layout (DuckDB types). Every source produces exactly these columns.
STAGE_COLUMNS: list[tuple[str, str]] = [
    ("row_no", "BIGINT"),
    ("model_id", "VARCHAR"),
    ("author", "VARCHAR"),
    ("created_at", "TIMESTAMP"),
    ("last_modified", "TIMESTAMP"),
    ("downloads", "BIGINT"),
    ("downloads_all_time", "BIGINT"),
    ("likes", "BIGINT"),
    ("pipeline_tag", "VARCHAR"),
    ("library_name", "VARCHAR"),
    ("gated", "VARCHAR"),
    ("tags", "VARCHAR[]"),
    ("card_licenses", "VARCHAR[]"),
    ("license_name", "VARCHAR"),
    ("license_link", "VARCHAR"),
    ("card_bases", "VARCHAR[]"),
    ("card_relation", "VARCHAR"),
    ("api_bases", "VARCHAR[]"),
    ("api_relation", "VARCHAR"),
    ("files", "VARCHAR[]"),
    ("card_hash", "VARCHAR"),
    ("has_card_meta", "BOOLEAN"),
]

STAGE = "_rt_stage"
STAGE_CARDS = "_rt_stage_cards"      # model_id, card_hash, card
STAGE_TREE = "_rt_stage_tree"        # model_id (child), base_id (parent), relation
STAGE_FILES = "_rt_stage_files"      # model_id, path, text


@dataclass
class ImportResult:
    """The outcome of one import or sync run (also stored in ``import_runs``)."""

    run_id: int
    snapshot_id: int | None
    source: str
    snapshot_date: dt.date | None
    rows_read: int = 0
    rows_imported: int = 0
    rows_rejected: int = 0
    rejections: dict[str, int] = field(default_factory=dict)
    models_new: int = 0
    models_updated: int = 0
    edges: int = 0
    conflicts: int = 0
    identified: int = 0
    seconds: float = 0.0
    paths: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["snapshot_date"] = self.snapshot_date.isoformat() if self.snapshot_date else None
        return out


def create_stage(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the empty temporary staging tables on ``con``."""
    cols = ", ".join(f"{name} {typ}" for name, typ in STAGE_COLUMNS)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE} ({cols})")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE_CARDS} (model_id VARCHAR, card_hash VARCHAR, card VARCHAR)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE_TREE} (model_id VARCHAR, base_id VARCHAR, relation VARCHAR)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE_FILES} (model_id VARCHAR, path VARCHAR, text VARCHAR)")


def drop_stage(con: duckdb.DuckDBPyConnection) -> None:
    for name in (STAGE, STAGE_CARDS, STAGE_TREE, STAGE_FILES, "_rt_rec", "_rt_edges", "_rt_apply"):
        try:
            con.execute(f"DROP TABLE IF EXISTS {name}")
        except duckdb.Error:
            pass


def append_rows(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    """Append Python rows (dicts keyed by stage column) to the staging table via Arrow."""
    if not rows:
        return
    import pyarrow as pa

    names = [n for n, _ in STAGE_COLUMNS]
    types = {
        "BIGINT": pa.int64(), "VARCHAR": pa.string(), "TIMESTAMP": pa.timestamp("us"),
        "VARCHAR[]": pa.list_(pa.string()), "BOOLEAN": pa.bool_(),
    }
    schema = pa.schema([(n, types[t]) for n, t in STAGE_COLUMNS])
    table = pa.Table.from_pylist([{n: r.get(n) for n in names} for r in rows], schema=schema)
    con.register("_rt_py_rows", table)
    try:
        con.execute(f"INSERT INTO {STAGE} SELECT * FROM _rt_py_rows")
    finally:
        con.unregister("_rt_py_rows")


def append_simple(con: duckdb.DuckDBPyConnection, table: str, cols: list[str], rows: list[tuple]) -> None:
    """Append tuples to one of the small staging side tables."""
    if not rows:
        return
    import pyarrow as pa

    arrays = [pa.array([r[i] for r in rows], type=pa.string()) for i in range(len(cols))]
    con.register("_rt_py_side", pa.Table.from_arrays(arrays, names=cols))
    try:
        con.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(cols)} FROM _rt_py_side")
    finally:
        con.unregister("_rt_py_side")


def _snapshot_id(con: duckdb.DuckDBPyConnection, source: str, snapshot_date: dt.date, location: str) -> int:
    row = con.execute(
        "SELECT snapshot_id FROM snapshots WHERE source = ? AND snapshot_date = ? AND location IS NOT DISTINCT FROM ?",
        [source, snapshot_date, location],
    ).fetchone()
    if row:
        con.execute("DELETE FROM model_observations WHERE snapshot_id = ?", [row[0]])
        return int(row[0])
    sid = int(con.execute("SELECT nextval('snapshots_seq')").fetchone()[0])
    con.execute(
        "INSERT INTO snapshots (snapshot_id, source, snapshot_date, location) VALUES (?, ?, ?, ?)",
        [sid, source, snapshot_date, location],
    )
    return sid


def commit_stage(
    con: duckdb.DuckDBPyConnection,
    *,
    source: str,
    snapshot_date: dt.date,
    location: str,
    rejections: Counter,
    rows_read: int,
    snapshot_id: int | None = None,
    classify: bool = True,
) -> dict[str, int]:
    """Apply the staged rows to the store (inside the caller's transaction).

    Rows without an id are rejected; duplicate ids inside the snapshot keep the most
    recently modified row (the others are counted as rejected). A model's current state in
    ``models`` is replaced only by a snapshot at least as recent as the one it came from;
    older snapshots still add observations and move ``first_seen`` back.
    Returns counters (rows_imported, rows_rejected, models_new, models_updated, edges, conflicts).
    """
    missing = con.execute(f"SELECT count(*) FROM {STAGE} WHERE model_id IS NULL OR trim(model_id) = ''").fetchone()[0]
    if missing:
        rejections["missing model id"] += int(missing)
    # Deduplicate inside the snapshot: the latest lastModified wins, then the later row.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _rt_rec AS
        SELECT * EXCLUDE (rn) FROM (
            SELECT *, row_number() OVER (PARTITION BY model_id
                    ORDER BY last_modified DESC NULLS LAST, row_no DESC) AS rn
            FROM {STAGE} WHERE model_id IS NOT NULL AND trim(model_id) <> ''
        ) WHERE rn = 1"""
    )
    kept = int(con.execute("SELECT count(*) FROM _rt_rec").fetchone()[0])
    valid = int(con.execute(f"SELECT count(*) FROM {STAGE} WHERE model_id IS NOT NULL AND trim(model_id) <> ''").fetchone()[0])
    if valid - kept:
        rejections["duplicate model id in snapshot (kept the latest lastModified)"] += valid - kept

    sid = snapshot_id if snapshot_id is not None else _snapshot_id(con, source, snapshot_date, location)

    # Reconciliation: declared licenses, license conflicts, base-model edges.
    reconcile.build_reconciled(con, "_rt_rec", STAGE_TREE)

    con.execute(
        """INSERT INTO model_observations (snapshot_id, model_id, last_modified, downloads, likes, licenses)
           SELECT ?, model_id, last_modified, downloads, likes, licenses FROM _rt_rec
           ON CONFLICT (snapshot_id, model_id) DO UPDATE SET last_modified = excluded.last_modified,
             downloads = excluded.downloads, likes = excluded.likes, licenses = excluded.licenses""",
        [sid],
    )

    # Which staged models replace the current state (new, or at least as recent).
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _rt_apply AS
           SELECT r.model_id, m.model_id IS NULL AS is_new
           FROM _rt_rec r LEFT JOIN models m USING (model_id)
           WHERE m.model_id IS NULL OR m.last_seen IS NULL OR m.last_seen <= ?""",
        [snapshot_date],
    )
    counts = con.execute("SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) FROM _rt_apply").fetchone()
    models_new, models_updated = int(counts[0]), int(counts[1])

    con.execute(
        """INSERT INTO models (model_id, author, created_at, last_modified, downloads, downloads_all_time, likes,
               pipeline_tag, library_name, gated, tags, licenses, license_tags, license_card, license_name,
               license_link, card_hash, files, snapshot_id, first_seen, last_seen)
           SELECT r.model_id, r.author, r.created_at, r.last_modified, r.downloads, r.downloads_all_time, r.likes,
               r.pipeline_tag, r.library_name, r.gated, r.tags, r.licenses, r.tag_licenses, r.card_licenses,
               r.license_name, r.license_link, r.card_hash, r.files, ?, ?, ?
           FROM _rt_rec r SEMI JOIN _rt_apply a USING (model_id)
           ON CONFLICT (model_id) DO UPDATE SET
               author = coalesce(excluded.author, models.author),
               created_at = coalesce(excluded.created_at, models.created_at),
               last_modified = coalesce(excluded.last_modified, models.last_modified),
               downloads = coalesce(excluded.downloads, models.downloads),
               downloads_all_time = coalesce(excluded.downloads_all_time, models.downloads_all_time),
               likes = coalesce(excluded.likes, models.likes),
               pipeline_tag = coalesce(excluded.pipeline_tag, models.pipeline_tag),
               library_name = coalesce(excluded.library_name, models.library_name),
               gated = coalesce(excluded.gated, models.gated),
               tags = excluded.tags, licenses = excluded.licenses, license_tags = excluded.license_tags,
               license_card = excluded.license_card, license_name = excluded.license_name,
               license_link = excluded.license_link,
               card_hash = coalesce(excluded.card_hash, models.card_hash),
               files = coalesce(excluded.files, models.files),
               identified_license = CASE WHEN excluded.card_hash IS NOT DISTINCT FROM models.card_hash
                                         THEN models.identified_license END,
               identified_score = CASE WHEN excluded.card_hash IS NOT DISTINCT FROM models.card_hash
                                       THEN models.identified_score END,
               identified_source = CASE WHEN excluded.card_hash IS NOT DISTINCT FROM models.card_hash
                                        THEN models.identified_source END,
               snapshot_id = excluded.snapshot_id,
               first_seen = least(models.first_seen, excluded.first_seen),
               last_seen = greatest(models.last_seen, excluded.last_seen)""",
        [sid, snapshot_date, snapshot_date],
    )
    # Older snapshots: only history fields move.
    con.execute(
        """UPDATE models SET first_seen = least(first_seen, ?),
               created_at = coalesce(models.created_at, r.created_at)
           FROM _rt_rec r WHERE models.model_id = r.model_id
             AND r.model_id NOT IN (SELECT model_id FROM _rt_apply)""",
        [snapshot_date],
    )

    edges = reconcile.write_edges(con)
    conflicts = reconcile.write_conflicts(con)

    con.execute(
        f"""INSERT INTO model_cards (model_id, card_hash, card)
            SELECT c.model_id, c.card_hash, c.card FROM (
                SELECT *, row_number() OVER (PARTITION BY model_id) AS rn FROM {STAGE_CARDS}
                WHERE card IS NOT NULL) c
            SEMI JOIN _rt_apply a USING (model_id) WHERE c.rn = 1
            ON CONFLICT (model_id) DO UPDATE SET card_hash = excluded.card_hash, card = excluded.card"""
    )
    return {
        "rows_imported": kept,
        "rows_rejected": int(missing) + (valid - kept),
        "models_new": models_new,
        "models_updated": models_updated,
        "edges": edges,
        "conflicts": conflicts,
        "snapshot_id": sid,
    }


def rejections_json(rejections: Counter) -> str:
    return json.dumps(dict(sorted(rejections.items())), ensure_ascii=False)
