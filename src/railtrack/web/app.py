"""The FastAPI application factory.

``create_app(db)`` opens the store, mounts the JSON API (``/api/...``, documented by the
OpenAPI schema at ``/openapi.json`` and the offline reference page ``/api``), the
server-rendered pages, and the local static assets (no CDN: the app works offline).

Configuration (arguments win over environment variables):

============================  ===================================  =========
argument                      environment variable                 default
============================  ===================================  =========
``rate_limit``                ``RAILTRACK_WEB_RATE_LIMIT``         30
``max_body_bytes``            ``RAILTRACK_WEB_MAX_BODY``           262144
``watermark_key``             ``RAILTRACK_WEB_WATERMARK_KEY``      none (text check off)
``tokenizer``                 -                                    SmolLM2's
``render_processes``          ``RAILTRACK_WEB_RENDER_PROCESSES``   0
============================  ===================================  =========

``rate_limit`` is licenses a minute per client address (``0`` turns the limit off, as the
load benchmark does); live previews get ten times that. ``render_processes`` worker processes render the heavy
download formats (PDF, HTML) so that they never hold the server's GIL (``railtrack serve``
starts two; ``0`` renders them in the request threadpool, as the test clients do).
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import NotFoundError, RailtrackError
from ..store import connect
from .security import BodySizeLimitMiddleware, RateLimiter, SameOriginMiddleware, SecurityHeadersMiddleware
from .state import WebState
from .templating import STATIC_DIR, templates

log = logging.getLogger("railtrack.web")

DEFAULT_RATE_LIMIT = 30
DEFAULT_MAX_BODY = 256 * 1024


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        from ..errors import UsageError

        raise UsageError(f"{name} must be an integer, got {raw!r}") from None


def readable_errors(errors: list[dict[str, Any]] | Any) -> tuple[str, list[dict[str, str]]]:
    """Turn pydantic / FastAPI validation errors into one readable line plus a short list."""
    items: list[dict[str, str]] = []
    for err in errors or []:
        kind = err.get("type", "")
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        msg = str(err.get("msg", "invalid value"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if kind == "json_invalid":
            reason = (err.get("ctx") or {}).get("error")
            loc, msg = ["body"], "not valid JSON" + (f" ({reason})" if reason else "")
        elif kind == "dict_type" and not loc:
            msg = "must be a JSON object"
        elif kind == "missing":
            msg = "required"
        where = ".".join(loc) if loc else ("body" if "body" in err.get("loc", ()) else "request")
        items.append({"loc": where, "msg": msg})
    if not items:
        return "invalid request", items
    line = "; ".join(f"{i['loc']}: {i['msg']}" for i in items[:5])
    if len(items) > 5:
        line += f"; and {len(items) - 5} more"
    return line, items


def _wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api/") or path == "/openapi.json" or path.startswith("/static/"):
        return False
    return "text/html" in request.headers.get("accept", "") or request.method == "GET"


def _error_response(request: Request, status: int, message: str, extra: dict[str, Any] | None = None,
                    headers: dict[str, str] | None = None):
    if _wants_html(request):
        return templates.TemplateResponse(
            request, "error.html", {"status": status, "message": message}, status_code=status, headers=headers
        )
    payload: dict[str, Any] = {"detail": message}
    if extra:
        payload.update(extra)
    return JSONResponse(payload, status_code=status, headers=headers)


def create_app(
    db: str | os.PathLike[str] | None = None,
    *,
    rate_limit: int | None = None,
    max_body_bytes: int | None = None,
    watermark_key: str | os.PathLike[str] | None = None,
    tokenizer: str | None = None,
    allowed_hosts: list[str] | None = None,
    render_processes: int | None = None,
) -> FastAPI:
    """Build the railtrack web app on the store ``db`` (path, ``":memory:"`` or the default).

    The store is opened (and migrated) here, once; routes use cursors of that connection
    and close it at shutdown. ``allowed_hosts`` restricts the ``Host`` header (``railtrack
    serve`` on loopback passes the loopback names, against DNS rebinding).
    """
    per_minute = rate_limit if rate_limit is not None else _env_int("RAILTRACK_WEB_RATE_LIMIT", DEFAULT_RATE_LIMIT)
    body_limit = max_body_bytes if max_body_bytes is not None else _env_int("RAILTRACK_WEB_MAX_BODY", DEFAULT_MAX_BODY)
    workers = (render_processes if render_processes is not None
               else _env_int("RAILTRACK_WEB_RENDER_PROCESSES", 0))
    key = watermark_key if watermark_key is not None else os.environ.get("RAILTRACK_WEB_WATERMARK_KEY") or None
    if key is not None:
        from ..watermark.keys import WatermarkKey

        WatermarkKey.load(key)  # a missing or invalid key file fails here, with one readable line

    con = connect(db)
    db_path = None
    if db is None or str(db) != ":memory:":
        from ..config import resolve_db_path

        db_path = resolve_db_path(db)
    state = WebState(
        _con=con,
        db_path=db_path,
        license_limiter=RateLimiter(per_minute),
        preview_limiter=RateLimiter(per_minute * 10 if per_minute > 0 else 0),
        max_body_bytes=body_limit,
        watermark_key=Path(key) if key else None,
        render_processes=max(0, workers),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.render_pool()  # start (and warm up) the render workers now, not on a first PDF
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                state.close()

    app = FastAPI(
        title="railtrack",
        version=__version__,
        summary="Write, read, track and enforce behavioral-use AI licenses.",
        description=(
            "JSON API of the railtrack web app: generate licenses from the clause catalogue, "
            "download them in every format, read adoption reports, and audit derivative models. "
            "Errors are JSON objects with a readable `detail` line; validation errors are 422."
        ),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    if tokenizer:
        state.extras["tokenizer_name"] = tokenizer
    app.state.railtrack = state

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        line, items = readable_errors(exc.errors())
        return _error_response(request, 422, line, {"errors": items})

    from ..reports.common import NoDataError

    @app.exception_handler(NoDataError)
    async def _no_data(request: Request, exc: NoDataError):
        return _error_response(request, 404, exc.message)

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError):
        return _error_response(request, 404, exc.message)

    @app.exception_handler(RailtrackError)
    async def _railtrack(request: Request, exc: RailtrackError):
        return _error_response(request, 422, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no page at {request.url.path}"
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # e.g. a body that is not UTF-8: an input error like any other invalid body
            return _error_response(request, 422, "body: not valid JSON (cannot be decoded as UTF-8 JSON)",
                                   {"errors": [{"loc": "body", "msg": "not valid JSON"}]})
        if exc.status_code == 405:
            detail = f"method {request.method} not allowed on {request.url.path}"
        return _error_response(request, exc.status_code, detail, headers=getattr(exc, "headers", None))

    from .routes import ROUTERS

    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    # The last added is the outermost: security headers also go on the body-limit's 413.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=body_limit)
    app.add_middleware(SameOriginMiddleware, allowed_hosts=allowed_hosts)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


__all__ = ["create_app", "readable_errors"]
