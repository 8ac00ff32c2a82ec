"""Model API: search, one model's record and lineage, audits, the watchlist.

Model ids contain a slash (``owner/name``); the routes take them as path parameters that
may span several segments (``/api/models/meta-llama/Llama-2-7b-chat-hf/audit``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel, Field

from ...errors import NotFoundError
from ..state import WebState, get_state
from ._common import ERRORS, NOT_FOUND, RATE_LIMITED

router = APIRouter(prefix="/api", tags=["models"], responses=ERRORS)

MODEL_ID = Path(..., min_length=1, max_length=300, description="Hub model id, e.g. `meta-llama/Llama-2-7b-chat-hf`")

_MODEL_COLUMNS = (
    "model_id", "author", "created_at", "last_modified", "downloads", "downloads_all_time", "likes",
    "pipeline_tag", "library_name", "gated", "tags", "licenses", "license_tags", "license_card", "license_name",
    "license_link", "identified_license", "identified_score", "identified_source", "behavioral_use", "files",
    "first_seen", "last_seen",
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def model_record(state: WebState, model_id: str) -> dict[str, Any] | None:
    """The store's row for ``model_id`` (``None`` when the store does not have it)."""
    with state.cursor() as cur:
        row = cur.execute(f"SELECT {', '.join(_MODEL_COLUMNS)} FROM models WHERE model_id = ?", [model_id]).fetchone()
    if row is None:
        return None
    return {k: _jsonable(v) for k, v in zip(_MODEL_COLUMNS, row)}


def graph(state: WebState) -> Any:
    """The lineage graph of the store, cached until the store's imports change."""
    from ...adherence import LineageGraph

    with state.cursor() as cur:
        key = cur.execute(
            "SELECT (SELECT count(*) FROM base_models), (SELECT coalesce(max(run_id), 0) FROM import_runs),"
            " (SELECT count(*) FROM models)"
        ).fetchone()
        cached = state.extras.get("graph")
        if cached is not None and cached[0] == key:
            return cached[1]
        g = LineageGraph.from_store(cur)
    state.extras["graph"] = (key, g)
    return g


def lineage(state: WebState, model_id: str, max_depth: int | None = None) -> dict[str, Any]:
    """Ancestors and descendants of a model (by relation); :class:`NotFoundError` if unknown."""
    g = graph(state)
    record = model_record(state, model_id)
    if record is None and not g.has(model_id):
        raise NotFoundError(f"model {model_id!r} is not in the store")
    ancestors = g.ancestors(model_id, max_depth)
    descendants = g.descendants(model_id, max_depth)
    by_relation: dict[str, int] = {}
    for node in descendants.nodes[1:]:
        by_relation[node.relation] = by_relation.get(node.relation, 0) + 1
    return {
        "model": model_id,
        "in_store": record is not None,
        "parents": [{"id": p, "relation": r} for p, r in g.parents_of(model_id)],
        "children": len(g.children_of(model_id)),
        "ancestors": [n.to_dict() for n in ancestors.nodes[1:]],
        "descendants": {
            "total": len(descendants) - 1,
            "by_relation": dict(sorted(by_relation.items())),
            "max_depth": max((n.depth for n in descendants.nodes), default=0),
            "cycle_edges": [list(e) for e in descendants.cycle_edges],
            "truncated": descendants.truncated,
        },
    }


def lineage_tree(state: WebState, model_id: str, max_depth: int = 3, max_nodes: int = 300) -> dict[str, Any]:
    """The descendants as a nested tree (``LineageGraph.tree``), cut to ``max_nodes`` nodes;
    models the store has metadata for come first."""
    tree = graph(state).tree(model_id, max_depth=max_depth)
    shown = 0

    def prune(node: dict[str, Any]) -> None:
        nonlocal shown
        kept = []
        for child in sorted(node.get("children", []), key=lambda c: (bool(c.get("missing")), c["id"].lower())):
            if shown >= max_nodes:
                break
            shown += 1
            kept.append(child)
            prune(child)
        node["hidden"] = len(node.get("children", [])) - len(kept)
        node["children"] = kept

    prune(tree)
    tree["shown"] = shown
    return tree


def run_audit(state: WebState, model_id: str, descendants: bool, max_depth: int | None = None) -> dict[str, Any]:
    """``railtrack.adherence.audit`` on the app's store (the lineage graph is shared; results
    are cached until the store changes)."""
    from ...adherence.audit import audit
    from .api_reports import _cached

    def make() -> dict[str, Any]:
        with state.cursor() as cur:
            return audit(cur, model_id, descendants=descendants, max_depth=max_depth, graph=graph(state))

    return _cached(state, ("audit", model_id, descendants, max_depth), make, limit=64)


class ModelHit(BaseModel):
    id: str
    licenses: list[str]
    downloads: int | None
    likes: int | None
    pipeline_tag: str | None


class ModelSearch(BaseModel):
    query: str
    total: int
    models: list[ModelHit]


def search_models(state: WebState, q: str, limit: int = 50) -> dict[str, Any]:
    """Models whose id contains ``q`` (case-insensitive), exact match first, then by downloads."""
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    with state.cursor() as cur:
        total = cur.execute("SELECT count(*) FROM models WHERE model_id ILIKE ? ESCAPE '\\'", [pattern]).fetchone()[0]
        rows = cur.execute(
            "SELECT model_id, licenses, downloads, likes, pipeline_tag FROM models"
            " WHERE model_id ILIKE ? ESCAPE '\\'"
            " ORDER BY lower(model_id) = lower(?) DESC, downloads DESC NULLS LAST, model_id LIMIT ?",
            [pattern, q, limit],
        ).fetchall()
    return {
        "query": q,
        "total": total,
        "models": [
            {"id": r[0], "licenses": list(r[1] or []), "downloads": r[2], "likes": r[3], "pipeline_tag": r[4]}
            for r in rows
        ],
    }


@router.get("/models", response_model=ModelSearch, summary="Search models by id")
def api_search(request: Request, q: str = Query("", max_length=300, description="Part of a model id"),
               limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    return search_models(get_state(request), q, limit)


@router.get(
    "/models/{model_id:path}/audit.csv", summary="Audit as CSV (one row per derivative and rule)",
    responses={**NOT_FOUND, 200: {"content": {"text/csv": {}}, "description": "CSV"}}, response_class=Response,
)
def api_audit_csv(
    request: Request,
    model_id: str = MODEL_ID,
    descendants: bool = Query(False, description="Audit every model derived from this one"),
    max_depth: int | None = Query(None, ge=1, le=1000),
) -> Response:
    from ...adherence.export import audit_csv

    report = run_audit(get_state(request), model_id, descendants, max_depth)
    name = "audit-" + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in model_id)[:120] + ".csv"
    return Response(audit_csv(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/models/{model_id:path}/audit", summary="Audit a model or its descendants", responses=NOT_FOUND)
def api_audit(
    request: Request,
    model_id: str = MODEL_ID,
    descendants: bool = Query(False, description="Audit every model derived from this one"),
    max_depth: int | None = Query(None, ge=1, le=1000, description="Only descendants up to this depth"),
) -> dict[str, Any]:
    """Per-rule verdicts (``compliant``, ``violation``, ``cannot-tell``) with reasons and evidence.

    The object has ``model``, ``base``, ``derivatives`` (a list of ``{id, relation, depth,
    declared_license, verdict, rules: [{rule, verdict, reason, evidence}]}``) and ``summary``.
    """
    return run_audit(get_state(request), model_id, descendants, max_depth)


@router.get("/models/{model_id:path}/lineage", summary="Ancestors and descendants of a model", responses=NOT_FOUND)
def api_lineage(request: Request, model_id: str = MODEL_ID,
                max_depth: int | None = Query(None, ge=1, le=1000)) -> dict[str, Any]:
    return lineage(get_state(request), model_id, max_depth)


@router.get("/models/{model_id:path}", summary="One model's record and lineage summary", responses=NOT_FOUND)
def api_model(request: Request, model_id: str = MODEL_ID) -> dict[str, Any]:
    """What the store knows about the model (declared and identified license, ...) and its lineage."""
    state = get_state(request)
    info = lineage(state, model_id)
    return {"model": model_id, "record": model_record(state, model_id), "lineage": info}


# ---------------------------------------------------------------------------- watchlist
class WatchIn(BaseModel):
    model_id: str = Field(..., min_length=1, max_length=300, description="Model id to watch")


def watchlist(state: WebState) -> dict[str, Any]:
    """The watched models (``railtrack.adherence.watch_list``) and the latest watch run."""
    import json

    from ...adherence import watch_list

    with state.cursor() as cur:
        models = watch_list(cur)
        last = cur.execute("SELECT run_id, ran_at, summary FROM watch_runs ORDER BY run_id DESC LIMIT 1").fetchone()
    summary = None
    if last is not None and last[2] is not None:
        try:
            summary = json.loads(last[2]) if isinstance(last[2], str) else last[2]
        except ValueError:
            summary = None
    return {
        "models": models,
        "last_run": None if last is None else {"run_id": last[0], "ran_at": _jsonable(last[1]), "totals": summary},
    }


@router.get("/watchlist", summary="Watched models and the latest watch run", tags=["watchlist"])
def api_watchlist(request: Request) -> dict[str, Any]:
    return watchlist(get_state(request))


@router.post("/watchlist", summary="Watch a model", tags=["watchlist"], status_code=201,
             responses={**NOT_FOUND, **RATE_LIMITED})
def api_watch_add(request: Request, body: WatchIn = Body(...)) -> dict[str, Any]:
    """Add a model to the watchlist (it must be in the store or named on a lineage edge)."""
    from ...adherence import watch_add

    state = get_state(request)
    state.license_limiter(request)  # writes share the creation rate limit
    with state.write_lock, state.cursor() as cur:
        watch_add(cur, body.model_id.strip())
    return watchlist(state)


@router.delete("/watchlist/{model_id:path}", summary="Stop watching a model", tags=["watchlist"],
               responses=NOT_FOUND)
def api_watch_remove(request: Request, model_id: str = MODEL_ID) -> dict[str, Any]:
    from ...adherence import watch_remove

    state = get_state(request)
    with state.write_lock, state.cursor() as cur:
        watch_remove(cur, model_id)
    return watchlist(state)


@router.post("/watchlist/run", summary="Run the watchlist now", tags=["watchlist"], responses=RATE_LIMITED)
def api_watch_run(request: Request) -> dict[str, Any]:
    """Compare the store with the last run: new derivatives, new and resolved violations."""
    from ...adherence import watch_run

    state = get_state(request)
    state.license_limiter(request)  # a run audits every watched family: limited like creation
    with state.write_lock, state.cursor() as cur:
        return watch_run(cur)
