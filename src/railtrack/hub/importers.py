"""Offline importers: family trees (CSV/JSON), hub-stats parquet, model-cards parquet, local repos.

:func:`import_paths` detects each path's format, stages its rows and commits them in one
transaction per path (see :mod:`railtrack.hub.stage`): a failure or a killed process
leaves the store as it was before that import. Bad rows are counted per reason in
``import_runs.rejections`` rather than aborting the import; unreadable files (corrupt
parquet, missing required columns) raise :class:`~railtrack.errors.InputError`.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import duckdb

from ..errors import InputError, UsageError
from . import stage as st
from .cards import ParsedCard, metadata_from_yaml_string, normalize_ids, normalize_licenses, normalize_model_id, parse_card
from .values import base_models_field, parse_record, sibling_files, to_gated, to_int, to_list, to_str, to_timestamp

FORMATS = ("auto", "trees", "hub-stats", "model-cards", "local")
TREE_COLUMNS = {"model_id", "card", "metadata"}
TREE_RELATIONS = {"children": "finetune", "adapters": "adapter", "quantized": "quantized", "merges": "merge"}
HUB_STATS_REQUIRED = {"id"}
MODEL_CARDS_REQUIRED = {"modelId", "card"}
LICENSE_FILE_RE = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|USE[_-]?POLICY|RESPONSIBLE[_-]?USE)([._-].*)?$", re.IGNORECASE)
MAX_CARD_CHARS = 2_000_000
BATCH = 5_000

Progress = Callable[[int], None]


def _csv_field_limit() -> None:
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 10


def _date_from_name(path: Path) -> dt.date | None:
    m = re.search(r"(20\d{2})[-_]?(\d{2})[-_]?(\d{2})", path.name)
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


# ---------------------------------------------------------------- format detection

def _parquet_columns(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError...
        raise InputError(f"{path}: not a readable parquet file ({str(exc).splitlines()[0]})") from None


def detect_format(path: Path) -> str:
    """The format of ``path`` for ``--format auto``; raises :class:`InputError` if unknown."""
    if path.is_dir():
        return "local"
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        cols = set(_parquet_columns(path))
        if MODEL_CARDS_REQUIRED <= cols:
            return "model-cards"
        if "id" in cols:
            return "hub-stats"
        raise InputError(f"{path}: parquet columns match neither hub-stats (id, ...) nor model-cards (modelId, card)")
    if suffix in (".md", ".markdown"):
        return "local"
    if suffix in (".csv", ".json", ".jsonl"):
        return "trees"
    raise InputError(f"{path}: cannot tell the format from the file name; pass --format")


# ---------------------------------------------------------------- shared row building

def _row_from_meta(
    model_id: str,
    meta: dict[str, Any] | None,
    card: ParsedCard,
    rejections: Counter,
    prefix: str,
) -> dict[str, Any]:
    """A staging row from a ModelInfo-like dict and a parsed card (either may be empty)."""
    meta = meta or {}
    if card.error:
        rejections[f"{prefix}card metadata ignored: {card.error}"] += 1
    card_meta = card.metadata if (card.metadata and not card.error) else None
    # Fall back to the record's own cardData (a YAML string or a dict) when the card lacks metadata.
    if card_meta is None:
        raw = meta.get("cardData", meta.get("card_data"))
        if isinstance(raw, dict):
            card_meta = raw
        elif isinstance(raw, str) and raw.strip() and raw.strip() not in ("None", "N/A"):
            data, err = metadata_from_yaml_string(raw)
            if err:
                try:
                    value = json.loads(raw)
                    data, err = (value, None) if isinstance(value, dict) else ({}, err)
                except ValueError:
                    pass
            if err:
                rejections[f"{prefix}cardData ignored: {err}"] += 1
            card_meta = data or None
    cm = card_meta or {}
    parsed = ParsedCard(metadata=cm)
    api_bases, api_rel = base_models_field(meta.get("baseModels"))
    tags = to_list(meta.get("tags")) if meta.get("tags") is not None else None  # None: tags unknown
    author = to_str(meta.get("author")) or (model_id.split("/")[0] if "/" in model_id else None)
    return {
        "model_id": model_id,
        "author": author,
        "created_at": to_timestamp(meta.get("createdAt", meta.get("created_at"))),
        "last_modified": to_timestamp(meta.get("lastModified", meta.get("last_modified"))),
        "downloads": to_int(meta.get("downloads")),
        "downloads_all_time": to_int(meta.get("downloadsAllTime", meta.get("downloads_all_time"))),
        "likes": to_int(meta.get("likes")),
        "pipeline_tag": to_str(meta.get("pipeline_tag")) or to_str(cm.get("pipeline_tag")),
        "library_name": to_str(meta.get("library_name")) or to_str(cm.get("library_name")),
        "gated": to_gated(meta.get("gated")),
        "tags": tags,
        "card_licenses": normalize_licenses(cm.get("license")),
        "license_name": parsed.license_name,
        "license_link": parsed.license_link,
        "card_bases": normalize_ids(cm.get("base_model")),
        "card_relation": parsed.base_model_relation,
        "api_bases": api_bases,
        "api_relation": api_rel,
        "files": sibling_files(meta.get("siblings")) or None,
        "card_hash": card.card_hash,
        "has_card_meta": card_meta is not None,
    }


def _card_text(value: Any, rejections: Counter, prefix: str) -> str | None:
    if value is None or not isinstance(value, str) or not value.strip() or value.strip() in ("N/A", "nan"):
        return None
    if len(value) > MAX_CARD_CHARS:
        rejections[f"{prefix}card longer than {MAX_CARD_CHARS} characters (truncated)"] += 1
        return value[:MAX_CARD_CHARS]
    return value


class _Sink:
    """Buffers staging rows and flushes them to DuckDB in batches."""

    def __init__(self, con: duckdb.DuckDBPyConnection, progress: Progress | None) -> None:
        self.con, self.progress = con, progress
        self.rows: list[dict[str, Any]] = []
        self.cards: list[tuple] = []
        self.tree: list[tuple] = []
        self.files: list[tuple] = []
        self.n = 0

    def add(self, row: dict[str, Any], card_text: str | None = None) -> None:
        row["row_no"] = self.n
        self.n += 1
        self.rows.append(row)
        if card_text is not None and row.get("card_hash"):
            self.cards.append((row["model_id"], row["card_hash"], card_text))
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        st.append_rows(self.con, self.rows)
        st.append_simple(self.con, st.STAGE_CARDS, ["model_id", "card_hash", "card"], self.cards)
        st.append_simple(self.con, st.STAGE_TREE, ["model_id", "base_id", "relation"], self.tree)
        st.append_simple(self.con, st.STAGE_FILES, ["model_id", "path", "text"], self.files)
        if self.progress and self.rows:
            self.progress(len(self.rows))
        self.rows, self.cards, self.tree, self.files = [], [], [], []


# ---------------------------------------------------------------- trees

def _iter_tree_records(path: Path) -> Iterator[dict[str, Any]]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            _csv_field_limit()
            with open(path, newline="", encoding="utf-8", errors="replace") as fh:
                reader = csv.DictReader(fh)
                cols = set(reader.fieldnames or [])
                if not TREE_COLUMNS <= cols:
                    raise InputError(f"{path}: not a family-tree CSV (missing columns: {', '.join(sorted(TREE_COLUMNS - cols))})")
                yield from reader
        elif suffix == ".jsonl":
            with open(path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if line.strip():
                        try:
                            rec = json.loads(line)
                        except ValueError:
                            yield {"__bad__": "unparseable JSON line"}
                            continue
                        yield rec if isinstance(rec, dict) else {"__bad__": "JSON line is not an object"}
        else:
            with open(path, encoding="utf-8", errors="replace") as fh:
                try:
                    data = json.load(fh)
                except ValueError as exc:
                    raise InputError(f"{path}: invalid JSON ({exc})") from None
            if isinstance(data, dict):
                data = data.get("models", data.get("rows"))
            if not isinstance(data, list):
                raise InputError(f"{path}: a family-tree JSON file is a list of records (or {{\"models\": [...]}})")
            for rec in data:
                yield rec if isinstance(rec, dict) else {"__bad__": "record is not an object"}
    except csv.Error as exc:
        raise InputError(f"{path}: invalid CSV ({exc})") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _split_ids(value: Any) -> list[str]:
    if value is None or isinstance(value, (dict, int, float)):
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    out = []
    for item in items:
        mid = normalize_model_id(item)
        if mid and mid not in out:
            out.append(mid)
    return out


def _stage_trees(con: duckdb.DuckDBPyConnection, path: Path, rejections: Counter, progress: Progress | None) -> tuple[int, int]:
    sink = _Sink(con, progress)
    read = rejected = 0
    for rec in _iter_tree_records(path):
        read += 1
        if "__bad__" in rec:
            rejections[f"trees: {rec['__bad__']}"] += 1
            rejected += 1
            continue
        model_id = normalize_model_id(rec.get("model_id"))
        meta, why = parse_record(rec.get("metadata"))
        if model_id is None and meta:
            model_id = normalize_model_id(meta.get("id") or meta.get("modelId"))
        if model_id is None:
            rejections["missing model id"] += 1
            rejected += 1
            continue
        if why:
            rejections[f"trees: {why} (card used)"] += 1
        text = _card_text(rec.get("card"), rejections, "trees: ")
        card = parse_card(text)
        row = _row_from_meta(model_id, meta, card, rejections, "trees: ")
        sink.add(row, text)
        for column, relation in TREE_RELATIONS.items():
            for child in _split_ids(rec.get(column)):
                sink.tree.append((child, model_id, relation))
    sink.flush()
    return read, rejected


# ---------------------------------------------------------------- local repos / cards

def _local_repos(path: Path) -> Iterator[tuple[str, Path]]:
    """(model id, folder or card file) for a card, a repo folder, or a folder of them."""
    if path.is_file():
        yield path.stem, path
        return
    if (path / "README.md").is_file():
        yield path.name, path
        return
    for child in sorted(path.iterdir()):
        if child.is_dir():
            if (child / "README.md").is_file():
                yield child.name, child
            else:
                # <org>/<name> layout
                for sub in sorted(child.iterdir()):
                    if sub.is_dir() and (sub / "README.md").is_file():
                        yield f"{child.name}/{sub.name}", sub
        elif child.suffix.lower() in (".md", ".markdown"):
            yield child.stem, child


def _read_text(path: Path, limit: int = MAX_CARD_CHARS) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(limit)
    except OSError:
        return None


def _stage_local(con: duckdb.DuckDBPyConnection, path: Path, rejections: Counter, progress: Progress | None) -> tuple[int, int]:
    sink = _Sink(con, progress)
    read = rejected = 0
    for model_id, where in _local_repos(path):
        read += 1
        readme = where if where.is_file() else where / "README.md"
        text = _read_text(readme)
        if text is None:
            rejections["local: unreadable README"] += 1
            rejected += 1
            continue
        meta: dict[str, Any] = {}
        files: list[str] = []
        if where.is_dir():
            files = sorted(p.name for p in where.iterdir() if p.is_file())
            meta["siblings"] = files
            info = where / "model_info.json"  # optional ModelInfo record saved beside the repo
            if info.is_file():
                rec, _ = parse_record(_read_text(info))
                meta.update(rec or {})
                model_id = normalize_model_id((rec or {}).get("id")) or model_id
            for name in files:
                if LICENSE_FILE_RE.match(name):
                    body = _read_text(where / name)
                    if body is not None:
                        sink.files.append((model_id, name, body))
        card = parse_card(text)
        sink.add(_row_from_meta(model_id, meta, card, rejections, "local: "), text)
    sink.flush()
    if read == 0:
        raise InputError(f"{path}: no model card found (expected README.md files or *.md cards)")
    return read, rejected


# ---------------------------------------------------------------- model-cards parquet

def _stage_model_cards(con: duckdb.DuckDBPyConnection, path: Path, rejections: Counter, progress: Progress | None) -> tuple[int, int]:
    import pyarrow.parquet as pq

    cols = set(_parquet_columns(path))
    missing = MODEL_CARDS_REQUIRED - cols
    if missing:
        raise InputError(f"{path}: not a model-cards parquet (missing columns: {', '.join(sorted(missing))})")
    wanted = [c for c in ("modelId", "author", "last_modified", "lastModified", "downloads", "likes", "library_name",
                          "tags", "pipeline_tag", "createdAt", "card", "gated") if c in cols]
    sink = _Sink(con, progress)
    read = rejected = 0
    try:
        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=2_000, columns=wanted):
            for rec in batch.to_pylist():
                read += 1
                model_id = normalize_model_id(rec.get("modelId"))
                if model_id is None:
                    rejections["missing model id"] += 1
                    rejected += 1
                    continue
                text = _card_text(rec.get("card"), rejections, "model-cards: ")
                card = parse_card(text)
                meta = dict(rec)
                meta.pop("card", None)
                sink.add(_row_from_meta(model_id, meta, card, rejections, "model-cards: "), text)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot read parquet ({str(exc).splitlines()[0]})") from None
    sink.flush()
    return read, rejected


# ---------------------------------------------------------------- hub-stats parquet (DuckDB SQL)

def _sql_str(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


#: The cardData fields the import reads (json_transform schema: one parse per row).
CARD_FIELDS = json.dumps({"license": "JSON", "license_name": "VARCHAR", "license_link": "VARCHAR",
                          "base_model": "JSON", "base_model_relation": "VARCHAR"})


def _stage_hub_stats(con: duckdb.DuckDBPyConnection, path: Path, rejections: Counter, progress: Progress | None) -> tuple[int, int]:
    """Stage the daily ``models.parquet`` dump entirely in DuckDB SQL (2M rows in seconds)."""
    cols = _parquet_columns(path)
    colset = set(cols)
    if not HUB_STATS_REQUIRED <= colset:
        raise InputError(f"{path}: not a hub-stats parquet (missing columns: {', '.join(sorted(HUB_STATS_REQUIRED - colset))})")
    try:
        types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet({_sql_str(path)}))").fetchall())
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot read parquet ({str(exc).splitlines()[0]})") from None

    def col(name: str, default: str = "NULL") -> str:
        return f'"{name}"' if name in colset else default

    def ts(name: str) -> str:
        if name not in colset:
            return "NULL::TIMESTAMP"
        t = types.get(name, "")
        if "TIMESTAMP" in t.upper():
            return f"timezone('UTC', \"{name}\")::TIMESTAMP" if "WITH TIME ZONE" in t.upper() else f'"{name}"::TIMESTAMP'
        if t.upper() in ("DATE",):
            return f'"{name}"::TIMESTAMP'
        return f"try_cast(try_cast(\"{name}\" AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP)"

    tags_t = types.get("tags", "")
    tags = col("tags", "[]::VARCHAR[]")
    if "tags" in colset and tags_t.upper() in ("VARCHAR", "JSON"):  # tags stored as a JSON string
        tags = "CASE WHEN json_valid(\"tags\") THEN try_cast(\"tags\"::JSON AS VARCHAR[]) END"
    elif "tags" in colset and not tags_t.endswith("[]"):
        tags = "NULL::VARCHAR[]"  # an unusable tags column: tags unknown
    card_t = types.get("cardData", "")
    if "cardData" in colset and card_t.upper() in ("VARCHAR", "JSON"):
        cd = ('CASE WHEN json_valid("cardData") THEN CASE WHEN json_type("cardData") = \'OBJECT\' '
              'THEN "cardData"::JSON END END')
        cd_bad = ('"cardData" IS NOT NULL AND trim("cardData") NOT IN (\'\', \'null\') AND '
                  'NOT coalesce(CASE WHEN json_valid("cardData") THEN json_type("cardData") = \'OBJECT\' END, false)')
    elif "cardData" in colset:
        cd = 'to_json("cardData")'
        cd_bad = "false"
    else:
        cd, cd_bad = "NULL::JSON", "false"
    bm_t = types.get("baseModels", "").upper()
    if "baseModels" in colset and bm_t.startswith("STRUCT") and "MODELS" in bm_t and "RELATION" in bm_t:
        # the dump's native layout: read the struct directly, no JSON round trip
        bm = "NULL::JSON"
        api_bases = 'coalesce(list_filter(list_transform("baseModels".models, lambda m: m.id), lambda x: x IS NOT NULL), [])'
        api_rel = 'lower("baseModels".relation)'
    else:
        if "baseModels" in colset and bm_t in ("VARCHAR", "JSON"):
            bm = 'CASE WHEN json_valid("baseModels") THEN "baseModels"::JSON END'
        elif "baseModels" in colset:
            bm = 'to_json("baseModels")'
        else:
            bm = "NULL::JSON"
        api_bases = "coalesce(try_cast(json_extract_string(_bm, '$.models[*].id') AS VARCHAR[]), [])"
        api_rel = "lower(_bm ->> '$.relation')"
    gated = col("gated")
    if "gated" in colset:
        gated = 'lower(CAST("gated" AS VARCHAR))'

    def str_or_list(expr: str) -> str:
        # JSON value that is a string or a list of strings -> lowercase VARCHAR[]
        return (f"CASE json_type({expr}) WHEN 'ARRAY' THEN list_transform(try_cast({expr} AS VARCHAR[]), lambda x: lower(trim(x)))"
                f" WHEN 'VARCHAR' THEN [lower(trim({expr} ->> '$'))] ELSE [] END")

    select = f"""
        WITH src AS (
            SELECT file_row_number AS _row_no, *, {cd} AS _cd, {bm} AS _bm
            FROM read_parquet({_sql_str(path)}, file_row_number = true)
        ), parsed AS (
            -- one parse of cardData into the few fields we need
            SELECT *, json_transform(_cd, '{CARD_FIELDS}') AS _j FROM src
        )
        SELECT _row_no AS row_no,
            nullif(trim(CAST("id" AS VARCHAR)), '') AS model_id,
            CAST({col("author")} AS VARCHAR) AS author,
            {ts("createdAt")} AS created_at, {ts("lastModified")} AS last_modified,
            try_cast({col("downloads")} AS BIGINT) AS downloads,
            try_cast({col("downloadsAllTime")} AS BIGINT) AS downloads_all_time,
            try_cast({col("likes")} AS BIGINT) AS likes,
            CAST({col("pipeline_tag")} AS VARCHAR) AS pipeline_tag,
            CAST({col("library_name")} AS VARCHAR) AS library_name,
            {gated} AS gated,
            {tags} AS tags,
            coalesce({str_or_list("_j.license")}, []) AS card_licenses,
            _j.license_name AS license_name, _j.license_link AS license_link,
            coalesce(list_filter(CASE json_type(_j.base_model)
                WHEN 'ARRAY' THEN try_cast(_j.base_model AS VARCHAR[])
                WHEN 'VARCHAR' THEN [_j.base_model ->> '$'] ELSE [] END,
                lambda x: x IS NOT NULL AND trim(x) <> ''), []) AS card_bases,
            CASE WHEN lower(_j.base_model_relation) IN ('adapter', 'finetune', 'quantized', 'merge')
                 THEN lower(_j.base_model_relation) END AS card_relation,
            {api_bases} AS api_bases,
            {api_rel} AS api_relation,
            NULL::VARCHAR[] AS files,
            NULL::VARCHAR AS card_hash,
            _cd IS NOT NULL AS has_card_meta
        FROM parsed
    """
    sql = st.insert_stage_sql(select)
    try:
        con.execute(sql)
        bad = con.execute(
            f"SELECT count(*) FILTER (WHERE {cd_bad}) FROM read_parquet({_sql_str(path)})"
        ).fetchone()[0] if cd_bad != "false" else 0
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot import hub-stats parquet ({str(exc).splitlines()[0]})") from None
    if bad:
        rejections["hub-stats: malformed cardData JSON (card metadata ignored)"] += int(bad)
    read = int(con.execute(f"SELECT count(*) FROM {st.STAGE}").fetchone()[0])
    if progress:
        progress(read)
    return read, 0


# ---------------------------------------------------------------- entry point

_STAGERS = {
    "trees": _stage_trees,
    "local": _stage_local,
    "model-cards": _stage_model_cards,
    "hub-stats": _stage_hub_stats,
}


def import_path(
    con: duckdb.DuckDBPyConnection,
    path: str | os.PathLike[str],
    fmt: str = "auto",
    snapshot_date: dt.date | str | None = None,
    *,
    progress: Progress | None = None,
    identify: bool = True,
) -> st.ImportResult:
    """Import one file or folder in a single transaction; see :func:`import_paths`."""
    from .classify import classify_models

    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    kind = detect_format(p) if fmt == "auto" else fmt
    if kind in ("hub-stats", "model-cards") and p.is_dir():
        raise InputError(f"{p}: a {kind} import takes a parquet file, not a folder")
    if isinstance(snapshot_date, str):
        try:
            snapshot_date = dt.date.fromisoformat(snapshot_date)
        except ValueError:
            raise UsageError(f"invalid snapshot date {snapshot_date!r}; use YYYY-MM-DD") from None
    date = snapshot_date or _date_from_name(p) or dt.date.today()
    rejections: Counter = Counter()
    started = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    t0 = time.perf_counter()
    location = str(p.resolve())
    settings = _tune(con)
    con.execute("BEGIN TRANSACTION")
    try:
        st.create_stage(con)
        read, reader_rejected = _STAGERS[kind](con, p, rejections, progress)
        res = st.commit_stage(con, source=kind, snapshot_date=date, location=location,
                              rejections=rejections, rows_read=read)
        identified = classify_models(con, "_rt_apply", identify=identify)
        run_id = int(con.execute("SELECT nextval('import_runs_seq')").fetchone()[0])
        rows_rejected = reader_rejected + res["rows_rejected"]
        con.execute(
            """INSERT INTO import_runs (run_id, snapshot_id, source, started_at, finished_at, status, rows_read,
                   rows_imported, rows_rejected, rejections, message)
               VALUES (?, ?, ?, ?, ?, 'done', ?, ?, ?, ?, ?)""",
            [run_id, res["snapshot_id"], kind, started, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
             read, res["rows_imported"], rows_rejected, st.rejections_json(rejections), location],
        )
        st.drop_stage(con)
        con.execute("COMMIT")
    except BaseException as exc:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass
        if isinstance(exc, Exception):
            _record_failure(con, kind, started, location, exc)
        if isinstance(exc, duckdb.Error):
            raise InputError(f"{p}: import failed ({str(exc).splitlines()[0]})") from None
        raise
    finally:
        _restore(con, settings)
    return st.ImportResult(
        run_id=run_id, snapshot_id=res["snapshot_id"], source=kind, snapshot_date=date,
        rows_read=read, rows_imported=res["rows_imported"], rows_rejected=rows_rejected,
        rejections=dict(rejections), models_new=res["models_new"], models_updated=res["models_updated"],
        edges=res["edges"], conflicts=res["conflicts"], identified=identified,
        seconds=round(time.perf_counter() - t0, 3), paths=[location],
    )


#: DuckDB settings for an import: bounded memory (spilling to disk beyond it), no ordering guarantee,
#: no DuckDB progress bar (stdout stays clean; the CLI draws its own on stderr).
IMPORT_SETTINGS = {"memory_limit": os.environ.get("RAILTRACK_IMPORT_MEMORY", "2GB"), "preserve_insertion_order": "false",
                   "enable_progress_bar": "false"}


def _tune(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    old = {}
    for name, value in IMPORT_SETTINGS.items():
        try:
            old[name] = con.execute(f"SELECT current_setting('{name}')").fetchone()[0]
            con.execute(f"SET {name} = '{value}'")
        except duckdb.Error:
            pass
    return old


def _restore(con: duckdb.DuckDBPyConnection, old: dict[str, str]) -> None:
    for name, value in old.items():
        try:
            con.execute(f"SET {name} = '{value}'")
        except duckdb.Error:
            pass


def _record_failure(con: duckdb.DuckDBPyConnection, kind: str, started: dt.datetime, location: str, exc: Exception) -> None:
    """Keep a trace of a failed import (its data was rolled back)."""
    try:
        run_id = int(con.execute("SELECT nextval('import_runs_seq')").fetchone()[0])
        con.execute(
            """INSERT INTO import_runs (run_id, source, started_at, finished_at, status, message)
               VALUES (?, ?, ?, ?, 'failed', ?)""",
            [run_id, kind, started, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
             f"{location}: {(str(exc).splitlines() or [type(exc).__name__])[0]}"[:1000]],
        )
    except duckdb.Error:
        pass


SNAPSHOT_SUFFIXES = (".parquet", ".csv", ".json", ".jsonl")


def _expand(path: Path, fmt: str) -> list[Path]:
    """A folder of snapshot files (e.g. weekly hub-stats archives) -> its files, by name.

    A folder holding model repos or README cards stays one ``local`` import.
    """
    if not path.is_dir() or fmt == "local":
        return [path]
    has_cards = (path / "README.md").is_file() or any(
        c.suffix.lower() in (".md", ".markdown") or (c.is_dir() and any(c.iterdir())) for c in path.iterdir())
    files = sorted(c for c in path.iterdir() if c.is_file() and c.suffix.lower() in SNAPSHOT_SUFFIXES)
    if files and not has_cards:
        return files
    return [path]


def import_paths(
    con: duckdb.DuckDBPyConnection,
    paths: Iterable[str | os.PathLike[str]],
    fmt: str = "auto",
    snapshot_date: dt.date | str | None = None,
    *,
    progress: Progress | None = None,
    identify: bool = True,
) -> st.ImportResult:
    """Import snapshots/cards from ``paths``; one transaction per path.

    ``fmt`` is ``auto`` (by extension and columns), ``trees``, ``hub-stats``,
    ``model-cards`` or ``local``. A folder of snapshot files (``*.parquet``, ``*.csv``,
    ``*.json``), e.g. weekly hub-stats archives, is imported file by file in name order. ``snapshot_date`` defaults to a date in the file name
    (``..._20250422_...``), else today. Returns the combined :class:`ImportResult` (the
    run id and snapshot of the last path).
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise UsageError("no path to import")
    for p in paths:
        if not p.exists():
            raise InputError(f"{p}: no such file or folder")
    paths = [q for p in paths for q in _expand(p, fmt)]
    total: st.ImportResult | None = None
    for p in paths:
        res = import_path(con, p, fmt, snapshot_date, progress=progress, identify=identify)
        if total is None:
            total = res
            continue
        total.run_id, total.snapshot_id, total.snapshot_date = res.run_id, res.snapshot_id, res.snapshot_date
        if total.source != res.source:
            total.source = "mixed"
        for name in ("rows_read", "rows_imported", "rows_rejected", "models_new", "models_updated", "edges",
                     "conflicts", "identified"):
            setattr(total, name, getattr(total, name) + getattr(res, name))
        for k, v in res.rejections.items():
            total.rejections[k] = total.rejections.get(k, 0) + v
        total.seconds = round(total.seconds + res.seconds, 3)
        total.paths.extend(res.paths)
    assert total is not None
    return total
