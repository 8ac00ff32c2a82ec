"""Live, incremental, resumable sync from the Hugging Face Hub model list API.

How it talks to the Hub: the request is the one ``huggingface_hub.HfApi.list_models``
sends (``GET {endpoint}/api/models`` with ``sort=lastModified``, ``direction=-1``,
``limit`` and ``expand=[...]``, headers from ``HfApi._build_hf_headers`` so ``HF_TOKEN``
is used), and every page goes through huggingface_hub's own ``http_backoff`` (retries on
429 honouring ``RateLimit``/``Retry-After`` headers, on 5xx and on dropped connections,
with exponential backoff) and ``hf_raise_for_status``; items are parsed into
``huggingface_hub.ModelInfo``. Pages are followed through the ``Link: <...>; rel="next"``
cursor exactly as ``list_models`` does. We walk the pages ourselves instead of iterating
``list_models`` because resuming after a crash needs each page's cursor, which
``list_models`` does not expose.

Incremental: models come newest-``lastModified`` first; the sync stops at the high-water
mark of the previous completed sync (the newest ``lastModified`` it saw), so a rerun next
week only fetches what changed.

Resumable: each page is committed in its own transaction together with the cursor of the
next page (``import_runs.cursor``, status ``running``). A crash at any point leaves the
store at a page boundary; the next ``sync`` finds the unfinished run and continues from its
cursor into the same snapshot. Models are keyed by id, so a page fetched twice never
duplicates a model and no page is skipped.

The list API carries the license only in ``license:`` tags and ``cardData``; lineage only
in ``cardData.base_model`` / ``base_model_relation`` and ``base_model:`` tags.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections import Counter
from typing import Any, Callable

import duckdb

from ..errors import InputError, UsageError
from . import stage as st
from .cards import ParsedCard, normalize_model_id
from .values import to_gated, to_int, to_str, to_timestamp

#: ``expand`` fields requested (all exist in huggingface_hub 2.4's ``ExpandModelProperty_T``).
EXPAND = ["author", "cardData", "createdAt", "downloads", "downloadsAllTime", "gated", "lastModified", "library_name",
          "likes", "pipeline_tag", "siblings", "tags"]
SOURCE = "hub-sync"
DEFAULT_ENDPOINT = "https://huggingface.co"
MAX_RATELIMIT_SLEEP = 300.0


def resolve_endpoint(endpoint: str | None) -> str:
    """Explicit endpoint, else ``$HF_ENDPOINT``, else https://huggingface.co (no trailing slash)."""
    value = endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
    if not value.startswith(("http://", "https://")):
        raise UsageError(f"invalid Hub endpoint {value!r}: expected an http(s) URL")
    return value.rstrip("/")


def _row_from_info(info: Any, rejections: Counter) -> dict[str, Any] | None:
    """A staging row from a ``huggingface_hub.ModelInfo`` of the list API."""
    model_id = normalize_model_id(getattr(info, "id", None))
    if model_id is None:
        return None
    card_data = getattr(info, "card_data", None)
    meta: dict[str, Any] = {}
    if card_data is not None:
        try:
            meta = card_data.to_dict() if hasattr(card_data, "to_dict") else dict(card_data)
        except Exception:
            rejections["hub-sync: cardData not understood (card metadata ignored)"] += 1
            meta = {}
    card = ParsedCard(metadata=meta)
    from .cards import normalize_ids, normalize_licenses

    siblings = getattr(info, "siblings", None) or []
    files = [s.rfilename for s in siblings if getattr(s, "rfilename", None)] or None
    tags = getattr(info, "tags", None)
    return {
        "model_id": model_id,
        "author": to_str(getattr(info, "author", None)) or (model_id.split("/")[0] if "/" in model_id else None),
        "created_at": to_timestamp(getattr(info, "created_at", None)),
        "last_modified": to_timestamp(getattr(info, "last_modified", None)),
        "downloads": to_int(getattr(info, "downloads", None)),
        "downloads_all_time": to_int(getattr(info, "downloads_all_time", None)),
        "likes": to_int(getattr(info, "likes", None)),
        "pipeline_tag": to_str(getattr(info, "pipeline_tag", None)),
        "library_name": to_str(getattr(info, "library_name", None)),
        "gated": to_gated(getattr(info, "gated", None)),
        "tags": list(tags) if tags is not None else None,
        "card_licenses": normalize_licenses(meta.get("license")),
        "license_name": card.license_name,
        "license_link": card.license_link,
        "card_bases": normalize_ids(meta.get("base_model")),
        "card_relation": card.base_model_relation,
        "api_bases": [],
        "api_relation": None,
        "files": files,
        "card_hash": None,
        "has_card_meta": card_data is not None,
    }


def _open_run(con: duckdb.DuckDBPyConnection, endpoint: str, full: bool) -> tuple[int, int, str | None, dict[str, Any]]:
    """Resume the unfinished sync of ``endpoint`` or start a new run: (run_id, snapshot_id, cursor, state)."""
    row = con.execute(
        """SELECT r.run_id, r.snapshot_id, r.cursor, r.message FROM import_runs r JOIN snapshots s USING (snapshot_id)
           WHERE r.source = ? AND r.status = 'running' AND s.location = ? ORDER BY r.run_id DESC LIMIT 1""",
        [SOURCE, endpoint],
    ).fetchone()
    if row is not None:
        state = json.loads(row[3]) if row[3] else {}
        return int(row[0]), int(row[1]), row[2], state
    hwm = None
    if not full:
        prev = con.execute(
            """SELECT r.message FROM import_runs r JOIN snapshots s USING (snapshot_id)
               WHERE r.source = ? AND r.status = 'done' AND s.location = ? ORDER BY r.run_id DESC LIMIT 1""",
            [SOURCE, endpoint],
        ).fetchone()
        if prev and prev[0]:
            hwm = json.loads(prev[0]).get("new_hwm")
    today = dt.datetime.now(dt.timezone.utc).date()
    state = {"hwm": hwm, "new_hwm": hwm, "pages": 0}
    con.execute("BEGIN TRANSACTION")
    try:
        sid = int(con.execute("SELECT nextval('snapshots_seq')").fetchone()[0])
        con.execute("INSERT INTO snapshots (snapshot_id, source, snapshot_date, location) VALUES (?, ?, ?, ?)",
                    [sid, SOURCE, today, endpoint])
        run_id = int(con.execute("SELECT nextval('import_runs_seq')").fetchone()[0])
        con.execute(
            """INSERT INTO import_runs (run_id, snapshot_id, source, started_at, status, rows_read, rows_imported,
                   rows_rejected, rejections, cursor, message) VALUES (?, ?, ?, ?, 'running', 0, 0, 0, '{}', NULL, ?)""",
            [run_id, sid, SOURCE, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), json.dumps(state)],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return run_id, sid, None, state


def _offline() -> bool:
    import huggingface_hub.constants as constants

    env = os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")
    return env or bool(constants.HF_HUB_OFFLINE)


def _fetch(url: str, params: dict[str, Any] | None, headers: dict[str, str], max_retries: int = 5) -> Any:
    """One page through huggingface_hub's backoff (429/RateLimit, 5xx, dropped connections)."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
    from huggingface_hub.utils import hf_raise_for_status, http_backoff

    try:
        response = http_backoff("GET", url, params=params, headers=headers, timeout=60, max_retries=max_retries)
        hf_raise_for_status(response)
    except OfflineModeIsEnabled:
        raise InputError("huggingface_hub offline mode is on (HF_HUB_OFFLINE=1): unset it to sync") from None
    except HfHubHTTPError as exc:
        raise InputError(f"the Hub refused the model list request: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # network errors left after the retries
        raise InputError(f"cannot reach the Hub at {url}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    return response


def _respect_ratelimit(response: Any, sleep: Callable[[float], None]) -> None:
    """Wait for the window to reset when a successful page says no requests remain."""
    from huggingface_hub.utils import parse_ratelimit_headers

    info = parse_ratelimit_headers(response.headers)
    if info is not None and info.remaining == 0 and info.reset_in_seconds > 0:
        sleep(min(float(info.reset_in_seconds), MAX_RATELIMIT_SLEEP))


def sync(
    con: duckdb.DuckDBPyConnection,
    endpoint: str | None = None,
    token: str | None = None,
    *,
    limit: int | None = None,
    page_size: int = 1000,
    search: str | None = None,
    author: str | None = None,
    full: bool = False,
    progress: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    max_retries: int = 5,
) -> st.ImportResult:
    """Sync models changed since the last completed sync (or everything: ``full=True``).

    ``token`` defaults to ``$HF_TOKEN``; ``endpoint`` to ``$HF_ENDPOINT``. ``limit`` makes a
    trial run of at most that many models, which does not move the high-water mark. Returns the
    :class:`~railtrack.hub.stage.ImportResult` of the (possibly resumed) run. Each request
    is retried up to ``max_retries`` times (huggingface_hub's backoff) before a clear
    :class:`~railtrack.errors.InputError`; the run then stays resumable.
    """
    from huggingface_hub import HfApi, ModelInfo

    from .classify import classify_models

    endpoint = resolve_endpoint(endpoint)
    if _offline():
        raise InputError("huggingface_hub offline mode is on (HF_HUB_OFFLINE=1): unset it to sync")
    api = HfApi(endpoint=endpoint, token=token or os.environ.get("HF_TOKEN") or False)
    headers = api._build_hf_headers(token=token or os.environ.get("HF_TOKEN") or False)
    con.execute("SET enable_progress_bar = false")  # stdout stays clean
    run_id, sid, cursor, state = _open_run(con, endpoint, full)
    snapshot_date = con.execute("SELECT snapshot_date FROM snapshots WHERE snapshot_id = ?", [sid]).fetchone()[0]
    hwm = state.get("hwm")
    hwm_ts = to_timestamp(hwm) if hwm else None
    totals = con.execute("SELECT rows_read, rows_imported, rows_rejected, rejections FROM import_runs WHERE run_id = ?",
                         [run_id]).fetchone()
    rows_read, rows_imported, rows_rejected = int(totals[0] or 0), int(totals[1] or 0), int(totals[2] or 0)
    rejections: Counter = Counter(json.loads(totals[3]) if totals[3] else {})
    new_models = updated = edges = conflicts = 0
    t0 = time.perf_counter()
    params: dict[str, Any] | None = None
    url = cursor
    if url is None:
        url = f"{endpoint}/api/models"
        params = {"sort": "lastModified", "direction": -1, "limit": page_size, "expand": EXPAND}
        if search:
            params["search"] = search
        if author:
            params["author"] = author
    done = limited = False
    fetched_this_call = 0
    while not done:
        response = _fetch(url, params, headers, max_retries)
        try:
            items = response.json()
        except ValueError:
            raise InputError(f"the Hub answered {url} with something that is not JSON") from None
        if not isinstance(items, list):
            raise InputError("the Hub model list did not return a list")
        next_url = response.links.get("next", {}).get("url")
        page_rej: Counter = Counter()
        rows = []
        for item in items:
            if not isinstance(item, dict):
                page_rej["hub-sync: item is not an object"] += 1
                continue
            try:
                info = ModelInfo(**item)
            except Exception as exc:
                page_rej[f"hub-sync: item not understood ({type(exc).__name__})"] += 1
                continue
            row = _row_from_info(info, page_rej)
            if row is None:
                page_rej["missing model id"] += 1
                continue
            if hwm_ts is not None and row["last_modified"] is not None and row["last_modified"] < hwm_ts:
                done = True  # older than the previous sync's newest change: everything after is known
                continue
            if limit is not None and fetched_this_call >= limit:
                done = limited = True
                continue
            row["row_no"] = rows_read + len(rows)
            rows.append(row)
            fetched_this_call += 1
        if next_url is None:
            done = True
        newest = max((r["last_modified"] for r in rows if r["last_modified"] is not None), default=None)
        if newest is not None:
            cur = to_timestamp(state.get("new_hwm")) if state.get("new_hwm") else None
            if cur is None or newest > cur:
                state["new_hwm"] = newest.isoformat()
        state["pages"] = int(state.get("pages", 0)) + 1
        if limited:  # a trial run: older changes were not fetched, so the high-water mark stays
            state["new_hwm"] = state.get("hwm")
        # One transaction per page: the rows and the cursor of the next page.
        con.execute("BEGIN TRANSACTION")
        try:
            st.create_stage(con)
            st.append_rows(con, rows)
            res = st.commit_stage(con, source=SOURCE, snapshot_date=snapshot_date, location=endpoint,
                                  rejections=page_rej, rows_read=len(rows), snapshot_id=sid,
                                  replace_observations=True)
            classify_models(con, "_rt_apply", identify=False)
            st.drop_stage(con)
            rows_read += len(items)
            rows_imported += res["rows_imported"]
            rows_rejected += res["rows_rejected"] + sum(v for k, v in page_rej.items() if k.startswith(("missing", "hub-sync: item")))
            rejections.update(page_rej)
            con.execute(
                """UPDATE import_runs SET rows_read = ?, rows_imported = ?, rows_rejected = ?, rejections = ?,
                       cursor = ?, message = ?, status = ?, finished_at = ? WHERE run_id = ?""",
                [rows_read, rows_imported, rows_rejected, st.rejections_json(rejections),
                 None if done else next_url, json.dumps(state), "done" if done else "running",
                 dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) if done else None, run_id],
            )
            con.execute("COMMIT")
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            raise
        new_models += res["models_new"]
        updated += res["models_updated"]
        edges += res["edges"]
        conflicts += res["conflicts"]
        if progress:
            progress(len(items))
        url, params = next_url, None
        if not done:
            _respect_ratelimit(response, sleep)
    return st.ImportResult(
        run_id=run_id, snapshot_id=sid, source=SOURCE, snapshot_date=snapshot_date, rows_read=rows_read,
        rows_imported=rows_imported, rows_rejected=rows_rejected, rejections=dict(rejections),
        models_new=new_models, models_updated=updated, edges=edges, conflicts=conflicts,
        seconds=round(time.perf_counter() - t0, 3), paths=[endpoint],
    )
