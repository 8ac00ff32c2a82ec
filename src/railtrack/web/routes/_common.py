"""Helpers shared by the routers: error response schemas and the page renderer."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel

from ..state import WebState, get_state
from ..templating import templates


class ErrorItem(BaseModel):
    loc: str
    msg: str


class Problem(BaseModel):
    """Every error response: one readable line in ``detail``; validation errors list ``errors``."""

    detail: str
    errors: list[ErrorItem] | None = None


#: Error responses documented on every API route.
ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": Problem, "description": "Invalid input (a readable line in `detail`)"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "Not found"}}
TOO_LARGE: dict[int | str, dict[str, Any]] = {413: {"model": Problem, "description": "Request body too large"}}
RATE_LIMITED: dict[int | str, dict[str, Any]] = {429: {"model": Problem, "description": "Rate limit reached (see Retry-After)"}}


def features(state: WebState) -> dict[str, bool]:
    """Which optional pages this app offers."""
    return {"watermark": state.watermark_key is not None}


def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200,
         headers: dict[str, str] | None = None):
    """Render an HTML page with the shared context (features, current nav entry)."""
    state = get_state(request)
    ctx = {"features": features(state)}
    ctx.update(context)
    return templates.TemplateResponse(request, name, ctx, status_code=status_code, headers=headers)
