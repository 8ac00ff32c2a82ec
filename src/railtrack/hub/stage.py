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


#: Columns derived from the input columns at insert time (the license part of the rule in
#: :mod:`railtrack.hub.reconcile`), so that no later step copies the wide staging table.
DERIVED_SQL = reconcile.DERIVED_SQL
DERIVED_COLUMNS: list[tuple[str, str]] = [("tags_known", "BOOLEAN"), ("tag_licenses", "VARCHAR[]"),
                                          ("licenses", "VARCHAR[]")]

MODEL_COLUMNS = ("model_id, author, created_at, last_modified, downloads, downloads_all_time, likes, pipeline_tag, "
                 "library_name, gated, tags, licenses, license_tags, license_card, license_name, license_link, "
                 "card_hash, identified_license, identified_score, identified_source, behavioral_use, files, "
                 "snapshot_id, first_seen, last_seen")


def create_stage(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the empty temporary staging tables on ``con``."""
    cols = ", ".join(f"{name} {typ}" for name, typ in STAGE_COLUMNS + DERIVED_COLUMNS)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE} ({cols})")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE_CARDS} (model_id VARCHAR, card_hash VARCHAR, card VARCHAR)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE_TREE} (model_id VARCHAR, base_id VARCHAR, relation VARCHAR)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE_FILES} (model_id VARCHAR, path VARCHAR, text VARCHAR)")


def insert_stage_sql(select_sql: str) -> str:
    """``INSERT INTO`` the staging table from a SELECT producing :data:`STAGE_COLUMNS` in order."""
    names = ", ".join(n for n, _ in STAGE_COLUMNS)
    inner = ", ".join(f"{reconcile.CARD_LICENSES_SQL} AS card_licenses" if n == "card_licenses" else n
                      for n, _ in STAGE_COLUMNS)
    return (f"INSERT INTO {STAGE} SELECT {names}, {DERIVED_SQL} FROM ("
            f"SELECT {inner}, {reconcile.TAG_LICENSES_SQL} AS _tag_licenses FROM ({select_sql}) AS _in) AS _n")


def drop_stage(con: duckdb.DuckDBPyConnection) -> None:
    for name in (STAGE, STAGE_CARDS, STAGE_TREE, STAGE_FILES, "_rt_edges_raw", "_rt_edges", "_rt_apply",
                 "_rt_merged"):
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
        con.execute(insert_stage_sql("SELECT * FROM _rt_py_rows"))
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


def _dedupe(con: duckdb.DuckDBPyConnection, rejections: Counter) -> tuple[int, int]:
    """Drop id-less rows and in-snapshot duplicates from the stage; (missing, duplicates)."""
    missing = int(con.execute(f"SELECT count(*) FROM {STAGE} WHERE model_id IS NULL OR trim(model_id) = ''").fetchone()[0])
    if missing:
        rejections["missing model id"] += missing
        con.execute(f"DELETE FROM {STAGE} WHERE model_id IS NULL OR trim(model_id) = ''")
    total, distinct = con.execute(f"SELECT count(*), count(DISTINCT model_id) FROM {STAGE}").fetchone()
    dups = int(total) - int(distinct)
    if dups:
        rejections["duplicate model id in snapshot (kept the latest lastModified)"] += dups
        # Only the narrow key columns go through the window; the latest lastModified wins, then the later row.
        con.execute(
            f"""DELETE FROM {STAGE} WHERE rowid IN (
                SELECT rid FROM (
                    SELECT rowid AS rid, row_number() OVER (PARTITION BY model_id
                        ORDER BY last_modified DESC NULLS LAST, row_no DESC) AS rn
                    FROM {STAGE} WHERE model_id IN (
                        SELECT model_id FROM {STAGE} GROUP BY model_id HAVING count(*) > 1)
                ) WHERE rn > 1)"""
        )
    return missing, dups


def commit_stage(
    con: duckdb.DuckDBPyConnection,
    *,
    source: str,
    snapshot_date: dt.date,
    location: str,
    rejections: Counter,
    rows_read: int,
    snapshot_id: int | None = None,
    replace_observations: bool = False,
) -> dict[str, int]:
    """Apply the staged rows to the store (inside the caller's transaction).

    Rows without an id are rejected; duplicate ids inside the snapshot keep the most
    recently modified row (the others are counted as rejected). A model's current state in
    ``models`` is replaced only by a snapshot at least as recent as the one it came from;
    older snapshots still add observations and move ``first_seen`` back.
    ``behavioral_use`` is classified inline from the registry (see
    :mod:`railtrack.hub.classify`). Returns counters (rows_imported, rows_rejected,
    models_new, models_updated, edges, conflicts, snapshot_id).
    """
    from .classify import behavioral_sql

    missing, dups = _dedupe(con, rejections)
    kept = int(con.execute(f"SELECT count(*) FROM {STAGE}").fetchone()[0])
    sid = snapshot_id if snapshot_id is not None else _snapshot_id(con, source, snapshot_date, location)

    if replace_observations:  # a live sync may meet a model twice in one snapshot
        con.execute(f"DELETE FROM model_observations WHERE snapshot_id = ? AND model_id IN (SELECT model_id FROM {STAGE})",
                    [sid])
    con.execute(
        f"""INSERT INTO model_observations (snapshot_id, model_id, last_modified, downloads, likes, licenses)
           SELECT ?, model_id, last_modified, downloads, likes, licenses FROM {STAGE}""",
        [sid],
    )

    # Which staged models replace the current state (new, or at least as recent).
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _rt_apply AS
           SELECT s.model_id, m.model_id IS NULL AS is_new
           FROM {STAGE} s LEFT JOIN models m USING (model_id)
           WHERE m.model_id IS NULL OR m.last_seen IS NULL OR m.last_seen <= ?""",
        [snapshot_date],
    )
    counts = con.execute("SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) FROM _rt_apply").fetchone()
    models_new, models_updated = int(counts[0]), int(counts[1])

    bu = behavioral_sql(con, STAGE, "s")
    same_card = "s.card_hash IS NOT DISTINCT FROM m.card_hash"
    if models_updated:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _rt_merged AS
            SELECT s.model_id, coalesce(s.author, m.author) AS author, coalesce(s.created_at, m.created_at) AS created_at,
                coalesce(s.last_modified, m.last_modified) AS last_modified, coalesce(s.downloads, m.downloads) AS downloads,
                coalesce(s.downloads_all_time, m.downloads_all_time) AS downloads_all_time,
                coalesce(s.likes, m.likes) AS likes, coalesce(s.pipeline_tag, m.pipeline_tag) AS pipeline_tag,
                coalesce(s.library_name, m.library_name) AS library_name, coalesce(s.gated, m.gated) AS gated,
                s.tags, s.licenses, s.tag_licenses AS license_tags, s.card_licenses AS license_card,
                s.license_name, s.license_link, coalesce(s.card_hash, m.card_hash) AS card_hash,
                CASE WHEN {same_card} THEN m.identified_license END AS identified_license,
                CASE WHEN {same_card} THEN m.identified_score END AS identified_score,
                CASE WHEN {same_card} THEN m.identified_source END AS identified_source,
                NULL::BOOLEAN AS behavioral_use,
                coalesce(s.files, m.files) AS files, ? AS snapshot_id,
                least(m.first_seen, ?::DATE) AS first_seen, greatest(m.last_seen, ?::DATE) AS last_seen
            FROM {STAGE} s JOIN models m USING (model_id)
            WHERE m.last_seen IS NULL OR m.last_seen <= ?""",
            [sid, snapshot_date, snapshot_date, snapshot_date],
        )
        con.execute("UPDATE _rt_merged SET behavioral_use = " + bu.replace("s.", "_rt_merged."))
        con.execute("DELETE FROM models WHERE model_id IN (SELECT model_id FROM _rt_merged)")
        con.execute(f"INSERT INTO models ({MODEL_COLUMNS}) SELECT {MODEL_COLUMNS} FROM _rt_merged")
        con.execute("DROP TABLE _rt_merged")
    con.execute(
        f"""INSERT INTO models ({MODEL_COLUMNS})
           SELECT s.model_id, s.author, s.created_at, s.last_modified, s.downloads, s.downloads_all_time, s.likes,
               s.pipeline_tag, s.library_name, s.gated, s.tags, s.licenses, s.tag_licenses, s.card_licenses,
               s.license_name, s.license_link, s.card_hash, NULL, NULL, NULL, {bu}, s.files, ?, ?, ?
           FROM {STAGE} s ANTI JOIN models m USING (model_id)""",
        [sid, snapshot_date, snapshot_date],
    )
    # Older snapshots: only history fields move.
    con.execute(
        f"""UPDATE models SET first_seen = least(first_seen, ?),
               created_at = coalesce(models.created_at, s.created_at)
           FROM {STAGE} s WHERE models.model_id = s.model_id AND models.last_seen > ?""",
        [snapshot_date, snapshot_date],
    )

    reconcile.build_edges(con, STAGE, STAGE_TREE)
    edges = reconcile.write_edges(con)
    conflicts = reconcile.write_conflicts(con, STAGE)

    con.execute(
        f"""INSERT OR REPLACE INTO model_cards (model_id, card_hash, card)
            SELECT c.model_id, c.card_hash, c.card FROM (
                SELECT *, row_number() OVER (PARTITION BY model_id) AS rn FROM {STAGE_CARDS}
                WHERE card IS NOT NULL) c
            SEMI JOIN _rt_apply a USING (model_id) WHERE c.rn = 1"""
    )
    return {
        "rows_imported": kept,
        "rows_rejected": missing + dups,
        "models_new": models_new,
        "models_updated": models_updated,
        "edges": edges,
        "conflicts": conflicts,
        "snapshot_id": sid,
    }


def rejections_json(rejections: Counter) -> str:
    return json.dumps(dict(sorted(rejections.items())), ensure_ascii=False)
