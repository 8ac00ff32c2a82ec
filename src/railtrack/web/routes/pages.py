"""Server-rendered HTML pages. They call the library (or the API helpers) and render templates."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ..state import get_state
from ._common import page
from .api_catalog import catalog_payload

router = APIRouter(include_in_schema=False)


def _store_counts(request: Request) -> dict[str, Any]:
    state = get_state(request)
    counts: dict[str, Any] = {}
    with state.cursor() as cur:
        for key, sql in (
            ("models", "SELECT count(*) FROM models"),
            ("edges", "SELECT count(*) FROM base_models"),
            ("licenses", "SELECT count(*) FROM generated_licenses"),
            ("snapshots", "SELECT count(*) FROM snapshots"),
            ("watched", "SELECT count(*) FROM watchlist"),
        ):
            counts[key] = cur.execute(sql).fetchone()[0]
    return counts


@router.get("/", response_class=HTMLResponse)
def index(request: Request):
    state = get_state(request)
    return page(request, "index.html", {
        "nav": "",
        "counts": _store_counts(request),
        "db_path": str(state.db_path) if state.db_path else ":memory:",
    })


@router.get("/generator", response_class=HTMLResponse)
def generator(request: Request):
    cat = catalog_payload()
    groups = []
    for d in cat["domains"]:
        clauses = [c for c in cat["clauses"] if c["domain"] == d["id"]]
        groups.append({**d, "clauses": clauses})
    return page(request, "generator.html", {"nav": "generator", "catalog": cat, "groups": groups})


@router.get("/api", response_class=HTMLResponse)
def api_reference(request: Request):
    schema = request.app.openapi()
    operations = []
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if method not in {"get", "post", "put", "delete", "patch"}:
                continue
            params = [
                {
                    "name": p.get("name"),
                    "where": p.get("in"),
                    "required": p.get("required", False),
                    "description": p.get("description") or (p.get("schema") or {}).get("description", ""),
                }
                for p in op.get("parameters", [])
            ]
            body = None
            content = (op.get("requestBody") or {}).get("content", {})
            if content:
                media, spec = next(iter(content.items()))
                ref = (spec.get("schema") or {}).get("$ref", "")
                body = {"media": media, "schema": ref.rsplit("/", 1)[-1] if ref else ""}
            operations.append({
                "method": method.upper(),
                "path": path,
                "summary": op.get("summary", ""),
                "description": op.get("description", ""),
                "params": params,
                "body": body,
                "responses": sorted(op.get("responses", {}).keys()),
                "tag": (op.get("tags") or ["other"])[0],
            })
    return page(request, "api.html", {"nav": "api", "operations": operations, "info": schema.get("info", {})})
