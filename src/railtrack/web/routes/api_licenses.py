"""License API: create (``POST /api/licenses``), preview, list, and download in every format.

The request body of ``POST /api/licenses`` is exactly the JSON manifest that
``railtrack license new --format json`` writes (the computed ``license_id``, ``title`` and
``spdx_id`` keys it adds are accepted and recomputed). Licenses are content-addressed: the
same manifest always gives the same id and the same bytes in every format.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel, Field

from starlette.concurrency import run_in_threadpool

from ...errors import NotFoundError
from ...licenses import manifest as M
from ..state import HEAVY_FORMATS, WebState, get_state
from ._common import ERRORS, NOT_FOUND, RATE_LIMITED, TOO_LARGE

router = APIRouter(prefix="/api", tags=["licenses"], responses={**ERRORS, **TOO_LARGE})

Format = Literal["md", "txt", "html", "tex", "pdf", "json", "card", "notice", "badge"]

#: Media type and file name suffix of each download format.
MEDIA: dict[str, tuple[str, str]] = {
    "md": ("text/markdown; charset=utf-8", ".md"),
    "txt": ("text/plain; charset=utf-8", ".txt"),
    "html": ("text/html; charset=utf-8", ".html"),
    "tex": ("application/x-tex; charset=utf-8", ".tex"),
    "pdf": ("application/pdf", ".pdf"),
    "json": ("application/json", ".json"),
    "card": ("text/markdown; charset=utf-8", ".card.md"),
    "notice": ("text/plain; charset=utf-8", ".NOTICE.txt"),
    "badge": ("image/svg+xml", ".svg"),
}
FORMAT_LABELS: dict[str, str] = {
    "md": "Markdown", "txt": "Plain text", "html": "HTML", "tex": "LaTeX", "pdf": "PDF",
    "json": "JSON manifest", "card": "Model card block", "notice": "NOTICE", "badge": "Badge (SVG)",
}
#: A standalone license HTML page may style itself, but never run script.
HTML_DOWNLOAD_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"

LICENSE_ID = Path(..., pattern=r"^rt-[0-9a-f]{12}$", description="License id (`rt-` + 12 hex digits)",
                  examples=["rt-0123456789ab"])


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.rsplit("/", 1)[-1]], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k not in ("$defs", "$id", "$schema")}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def manifest_schema() -> dict[str, Any]:
    """The published manifest JSON Schema, self-contained, for the OpenAPI request bodies."""
    schema = M.json_schema()
    return _inline(schema, schema.get("$defs", {}))


MANIFEST_BODY = {
    "requestBody": {
        "required": True,
        "description": "A license manifest, exactly as `railtrack license new --format json` writes it.",
        "content": {"application/json": {"schema": manifest_schema()}},
    }
}


class LicenseOut(BaseModel):
    id: str
    title: str
    spdx_id: str
    markdown: str


class LicensePreview(LicenseOut):
    text: str = Field(description="The plain-text rendering (what the preview pane shows)")


class LicenseCreated(LicenseOut):
    url: str = Field(description="The license's page")
    created: bool = Field(description="False when the same license had been recorded before")
    downloads: dict[str, str] = Field(description="Download URL of each format")


class LicenseSummary(BaseModel):
    id: str
    title: str
    licensor: str
    flavor: str
    artifacts: list[str]
    restrictions: int
    custom: int
    domains: list[str]
    created_at: str
    url: str


class LicenseList(BaseModel):
    total: int
    licenses: list[LicenseSummary]


def to_spec(body: Any) -> M.LicenseSpec:
    """The :class:`LicenseSpec` of a request body; :class:`InputError` (422) with one line if invalid."""
    return M.parse_manifest(body)


def rendered(state: WebState, spec: M.LicenseSpec, fmt: str, lid: str | None = None) -> bytes:
    """``render(spec, fmt)`` through the app's cache (rendering is deterministic)."""
    from ...licenses import render

    key = (lid or M.license_id(spec), fmt)
    data = state.renders.get(key)
    if data is None:
        data = render(spec, fmt)  # thread-safe in every format, PDF included
        state.renders.put(key, data)
    return data


async def render_async(state: WebState, spec: M.LicenseSpec, fmt: str, lid: str) -> bytes:
    """:func:`rendered` without stalling the event loop.

    The heavy formats (PDF, HTML: tens of milliseconds of pure-Python CPU) render in the
    app's worker processes when it has them (``railtrack serve``), so they never hold this
    process's GIL while the event loop has other requests to answer; otherwise in the
    threadpool. The light formats (well under a millisecond) render in place. Same bytes
    either way: rendering is deterministic.
    """
    import asyncio
    from concurrent.futures.process import BrokenProcessPool

    key = (lid, fmt)
    data = state.renders.get(key)
    if data is not None:
        return data
    if fmt not in HEAVY_FORMATS:
        return rendered(state, spec, fmt, lid)
    pool = state.render_pool()
    if pool is not None:
        from ...licenses import render

        try:
            data = await asyncio.wrap_future(pool.submit(render, spec, fmt))
        except BrokenProcessPool:  # a worker died: render here, start a fresh pool next time
            state.drop_render_pool(pool)
        else:
            state.renders.put(key, data)
            return data
    return await run_in_threadpool(rendered, state, spec, fmt, lid)


def load_license(state: WebState, lid: str) -> M.LicenseSpec:
    """The recorded license ``lid``; raises :class:`NotFoundError` when it is not in the store."""
    from ...licenses import store as license_store

    spec = state.specs.get(lid)
    if spec is not None:
        return spec
    with state.cursor() as cur:
        spec = license_store.get(cur, lid)
    if spec is None:
        raise NotFoundError(f"no license {lid} in this store")
    if M.license_id(spec) == lid:  # only exact ids are cached (the store also accepts prefixes)
        state.remember(lid, spec)
    return spec


def record_license(state: WebState, spec: M.LicenseSpec) -> tuple[str, bool]:
    """Record ``spec`` in the store (idempotent); return ``(id, newly_created)``.

    Synchronous; the request handlers use :func:`record_license_async`, which batches.
    """
    lid = M.license_id(spec)
    if lid in state.specs:
        return lid, False
    return _record_batch(state, [spec])[0]


def _record_batch(state: WebState, specs: list[M.LicenseSpec]) -> list[tuple[str, bool]]:
    """Record ``specs`` in one store transaction (``licenses.store.record_many``)."""
    from ...licenses import store as license_store

    with state.write_lock, state.cursor() as cur:
        out = license_store.record_many(cur, specs)
    for spec, (lid, _) in zip(specs, out):
        state.remember(lid, spec)
    return out


def _flush(state: WebState) -> None:
    """Write every license queued so far in one transaction (group commit), on the writer thread."""
    with state.pending_lock:
        batch, state.pending = state.pending, []
    if not batch:
        return
    try:
        results = _record_batch(state, [spec for spec, _ in batch])
    except BaseException as exc:  # every waiter gets the error (a 500 with the reason logged)
        for _, fut in batch:
            if not fut.done():
                fut.set_exception(exc)
        return
    for (_, fut), result in zip(batch, results):
        if not fut.done():
            fut.set_result(result)


async def record_license_async(state: WebState, spec: M.LicenseSpec) -> tuple[str, bool]:
    """Record ``spec``; ``(id, newly_created)``. The event loop and request threads never
    wait on the store: licenses are queued, and the app's single store-writer thread records
    whatever has queued up in one transaction (group commit) - under load one commit serves
    many requests. Each caller resumes once its own license is committed."""
    import asyncio
    from concurrent.futures import Future

    lid = M.license_id(spec)
    if lid in state.specs:
        return lid, False
    fut: Future[tuple[str, bool]] = Future()
    with state.pending_lock:
        state.pending.append((spec, fut))
        first = len(state.pending) == 1
    if first:  # a flush picks up this and everything queued before it runs
        state.writer.submit(_flush, state)
    return await asyncio.wrap_future(fut)


def download_links(lid: str) -> dict[str, str]:
    return {fmt: f"/api/licenses/{lid}?format={fmt}" for fmt in MEDIA}


def file_name(spec: M.LicenseSpec, fmt: str) -> str:
    return M.card_slug(spec) + MEDIA[fmt][1]


@router.post("/licenses/preview", response_model=LicensePreview, summary="Preview a license (not stored)",
             responses=RATE_LIMITED, openapi_extra=MANIFEST_BODY)
async def preview_license(request: Request, body: dict[str, Any] = Body(..., media_type="application/json")) -> dict[str, Any]:
    """Validate a manifest and return its id, title and Markdown text without storing it."""
    state = get_state(request)
    state.preview_limiter(request)
    spec = to_spec(body)
    return {
        "id": M.license_id(spec),
        "title": M.title(spec),
        "spdx_id": M.spdx_id(spec),
        "markdown": rendered(state, spec, "md").decode("utf-8"),
        "text": rendered(state, spec, "txt").decode("utf-8"),
    }


@router.post("/licenses", response_model=LicenseCreated, status_code=201, summary="Create a license",
             responses={**RATE_LIMITED, 200: {"model": LicenseCreated,
                                              "description": "The same license was recorded before"}},
             openapi_extra=MANIFEST_BODY)
async def create_license(request: Request, response: Response,
                         body: dict[str, Any] = Body(..., media_type="application/json")) -> dict[str, Any]:
    """Record a license from its manifest; return its id, title, URLs and Markdown text.

    Creating the same manifest twice returns the same id (``created`` is then false).
    Rate-limited per client (``--rate-limit``).
    """
    state = get_state(request)
    state.license_limiter(request)
    spec = to_spec(body)
    lid, created = await record_license_async(state, spec)
    response.headers["Location"] = f"/licenses/{lid}"
    if not created:
        response.status_code = 200
    return {
        "id": lid,
        "title": M.title(spec),
        "spdx_id": M.spdx_id(spec),
        "markdown": rendered(state, spec, "md", lid).decode("utf-8"),
        "url": f"/licenses/{lid}",
        "created": created,
        "downloads": download_links(lid),
    }


@router.get("/licenses", response_model=LicenseList, summary="Licenses recorded in the store")
def list_licenses(
    request: Request,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> dict[str, Any]:
    """Generated licenses, newest first."""
    state = get_state(request)
    with state.cursor() as cur:
        total = cur.execute("SELECT count(*) FROM generated_licenses").fetchone()[0]
        rows = cur.execute(
            "SELECT license_id, title, licensor, flavor, artifacts, len(restrictions), custom_count, domains,"
            " created_at FROM generated_licenses ORDER BY created_at DESC, license_id LIMIT ? OFFSET ?",
            [limit, offset],
        ).fetchall()
    return {
        "total": total,
        "licenses": [
            {
                "id": r[0], "title": r[1], "licensor": r[2], "flavor": r[3], "artifacts": list(r[4] or []),
                "restrictions": int(r[5] or 0), "custom": int(r[6] or 0), "domains": list(r[7] or []),
                "created_at": r[8].isoformat(timespec="seconds") if r[8] else "", "url": f"/licenses/{r[0]}",
            }
            for r in rows
        ],
    }


@router.get(
    "/licenses/{license_id}",
    summary="Download a license",
    responses={
        **NOT_FOUND,
        200: {
            "description": "The license in the requested format",
            "content": {m.split(";")[0]: {} for m, _ in MEDIA.values()},
        },
    },
    response_class=Response,
)
async def get_license(
    request: Request,
    license_id: str = LICENSE_ID,
    format: Format = Query("json", description="md, txt, html, tex, pdf, json (manifest), card, notice or badge"),
    download: bool = Query(True, description="Send as an attachment (false: show inline)"),
) -> Response:
    """The recorded license in one format; the same id always gives the same bytes."""
    state = get_state(request)
    spec = state.specs.get(license_id)
    data = state.renders.get((license_id, format)) if spec is not None else None
    if data is None:
        if spec is None:  # the store read off the event loop
            spec = await run_in_threadpool(load_license, state, license_id)
        data = await render_async(state, spec, format, license_id)
    media, _ = MEDIA[format]
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=3600"}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{file_name(spec, format)}"'
    if format == "html":
        headers["Content-Security-Policy"] = HTML_DOWNLOAD_CSP
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(content=data, media_type=media, headers=headers)


@router.get("/licenses/{license_id}/diff/{other_id}", summary="Clause-level differences between two licenses",
            responses=NOT_FOUND)
def diff_licenses(request: Request, license_id: str = LICENSE_ID, other_id: str = Path(
        ..., pattern=r"^rt-[0-9a-f]{12}$", description="The license to compare with")) -> dict[str, Any]:
    """``railtrack.licenses.diff_specs``: restrictions added and removed going from the first
    license to the second, custom restrictions, domains, and other fields that differ."""
    from ...licenses import diff_specs

    state = get_state(request)
    return diff_specs(load_license(state, license_id), load_license(state, other_id)).to_dict()
