"""Server-rendered HTML pages. They call the library (or the API helpers) and render templates."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse, RedirectResponse

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


FLAVOR_TEXT = {
    "open": "Royalty-free; redistribution and derivatives allowed. The use restrictions travel with every copy and derivative.",
    "rail": "Internal use only: no redistribution and no derivatives shared outside your organisation.",
    "research": "Research use only; the research-only purpose and the restrictions are passed on downstream.",
}
ARTIFACT_TEXT = {
    "data": "A data set (training or evaluation data).",
    "application": "An application or hosted service built on the model.",
    "model": "Model weights and their derivatives.",
    "source": "Source code for training, inference or evaluation.",
}


def _empty_form() -> dict[str, Any]:
    return {
        "name": "", "licensor": "", "flavor": "open", "artifacts": ["model"], "restrictions": [],
        "custom": [], "commercial_use": True, "notice": "", "jurisdiction": "", "url": "", "info": "",
    }


def _form_from_spec(spec: Any) -> dict[str, Any]:
    return {
        "name": spec.name, "licensor": spec.licensor, "flavor": spec.flavor, "artifacts": list(spec.artifacts),
        "restrictions": list(spec.restrictions),
        "custom": [{"text": c.text, "domain": c.domain} for c in spec.custom_restrictions],
        "commercial_use": bool(spec.commercial_use), "notice": spec.notice or "",
        "jurisdiction": spec.jurisdiction or "", "url": spec.url or "", "info": spec.info or "",
    }


def _generator_page(request: Request, form: dict[str, Any], errors: str = "", preview: dict | None = None,
                    status_code: int = 200):
    from ...licenses import manifest as M

    cat = catalog_payload()
    groups = []
    for d in cat["domains"]:
        clauses = [c for c in cat["clauses"] if c["domain"] == d["id"]]
        groups.append({**d, "clauses": clauses})
    if not form["custom"]:
        form = dict(form, custom=[{"text": "", "domain": "general"}])
    return page(request, "generator.html", {
        "nav": "generator",
        "catalog": cat,
        "groups": groups,
        "flavors": [{"id": f, "title": M.FLAVOR_NAMES[f], "description": FLAVOR_TEXT.get(f, "")} for f in M.FLAVORS],
        "artifacts": [
            {"id": a, "title": f"{M.ARTIFACT_LABELS[a]} ({M.ARTIFACT_INITIALS[a]})", "description": ARTIFACT_TEXT.get(a, "")}
            for a in ("application", "model", "source", "data")
        ],
        "limits": {"custom_max_chars": M.CUSTOM_MAX_CHARS, "name_max_chars": M.NAME_MAX_CHARS,
                   "text_max_chars": M.TEXT_MAX_CHARS},
        "form": form,
        "errors": errors,
        "preview": preview,
    }, status_code=status_code)


@router.get("/generator", response_class=HTMLResponse)
def generator(request: Request, from_: str | None = Query(None, alias="from", max_length=20)):
    """The generator; ``?from=rt-...`` starts from a recorded license (to make a variant)."""
    form = _empty_form()
    if from_:
        from .api_licenses import load_license

        form = _form_from_spec(load_license(get_state(request), from_))
    return _generator_page(request, form)


def _form_to_manifest(data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Form fields -> (manifest dict, form values to show again)."""
    texts = [str(t) for t in data.getlist("custom_text")]
    domains = [str(d) for d in data.getlist("custom_domain")]
    custom = [{"text": t.strip(), "domain": (domains[i] if i < len(domains) else "general")}
              for i, t in enumerate(texts) if t.strip()]
    form = {
        "name": str(data.get("name", "")), "licensor": str(data.get("licensor", "")),
        "flavor": str(data.get("flavor", "open")),
        "artifacts": [str(a) for a in data.getlist("artifacts")],
        "restrictions": list(dict.fromkeys(str(r) for r in data.getlist("restrictions"))),
        "custom": custom,
        "commercial_use": data.get("commercial_use") == "true",
        "notice": str(data.get("notice", "")), "jurisdiction": str(data.get("jurisdiction", "")),
        "url": str(data.get("url", "")), "info": str(data.get("info", "")),
    }
    manifest: dict[str, Any] = {
        "name": form["name"], "licensor": form["licensor"], "flavor": form["flavor"],
        "artifacts": form["artifacts"], "restrictions": form["restrictions"],
        "custom_restrictions": custom, "commercial_use": form["commercial_use"],
    }
    for key in ("notice", "jurisdiction", "url", "info"):
        if form[key].strip():
            manifest[key] = form[key]
    return manifest, form


@router.post("/licenses", response_class=HTMLResponse)
async def create_from_form(request: Request):
    """The generator form without JavaScript: validate, record, redirect to the license page."""
    
    from ...errors import RailtrackError
    from .api_licenses import record_license_async, to_spec

    state = get_state(request)
    state.license_limiter(request)
    data = await request.form()
    manifest, form = _form_to_manifest(data)
    try:
        spec = to_spec(manifest)
    except RailtrackError as exc:
        return _generator_page(request, form, errors=exc.message, status_code=422)
    lid, _ = await record_license_async(state, spec)
    return RedirectResponse(f"/licenses/{lid}", status_code=303)


@router.get("/licenses", response_class=HTMLResponse)
def licenses_page(request: Request, page_no: int = Query(1, alias="page", ge=1, le=100_000)):
    from .api_licenses import list_licenses

    per_page = 50
    data = list_licenses(request, limit=per_page, offset=(page_no - 1) * per_page)
    pages = max(1, (data["total"] + per_page - 1) // per_page)
    return page(request, "licenses.html", {"nav": "licenses", "data": data, "page_no": page_no, "pages": pages})


@router.get("/licenses/{license_id}", response_class=HTMLResponse)
def license_page(request: Request, license_id: str = FastPath(..., pattern=r"^rt-[0-9a-f]{12}$")):
    from ...catalog.clauses import load_catalog
    from ...licenses import manifest as M
    from .api_licenses import FORMAT_LABELS, download_links, load_license, rendered

    state = get_state(request)
    spec = load_license(state, license_id)
    cat = load_catalog()
    links = download_links(license_id)
    with state.cursor() as cur:
        row = cur.execute("SELECT created_at FROM generated_licenses WHERE license_id = ?", [license_id]).fetchone()
    return page(request, "license.html", {
        "nav": "licenses",
        "id": license_id,
        "spec": spec,
        "title": M.title(spec),
        "spdx_id": M.spdx_id(spec),
        "flavor_name": M.FLAVOR_NAMES[spec.flavor],
        "artifact_labels": [M.ARTIFACT_LABELS[a] for a in spec.artifacts],
        "restrictions": [cat.get(r) for r in spec.restrictions if r in cat],
        "created_at": row[0].isoformat(timespec="seconds") if row and row[0] else "",
        "downloads": [{"fmt": f, "label": FORMAT_LABELS[f], "url": links[f]} for f in links],
        "text": rendered(state, spec, "txt", license_id).decode("utf-8"),
        "card": rendered(state, spec, "card", license_id).decode("utf-8"),
        "notice": rendered(state, spec, "notice", license_id).decode("utf-8"),
        "others": [r for r in _recent_licenses(state) if r[0] != license_id],
    })


def _recent_licenses(state: Any, limit: int = 200) -> list[tuple[str, str]]:
    with state.cursor() as cur:
        return cur.execute("SELECT license_id, title FROM generated_licenses ORDER BY created_at DESC, license_id"
                           " LIMIT ?", [limit]).fetchall()


@router.get("/licenses/{license_id}/compare", response_class=HTMLResponse)
def compare_page(request: Request, license_id: str = FastPath(..., pattern=r"^rt-[0-9a-f]{12}$"),
                 with_: str = Query(..., alias="with", pattern=r"^rt-[0-9a-f]{12}$")):
    """What changes from one recorded license to another (``railtrack license diff``)."""
    from ...catalog.clauses import load_catalog
    from .api_licenses import diff_licenses

    diff = diff_licenses(request, license_id, with_)
    cat = load_catalog()

    def clause(cid: str) -> dict[str, str]:
        c = cat.get(cid) if cid in cat else None
        return {"id": cid, "title": c.title if c else cid, "domain": c.domain if c else ""}

    return page(request, "compare.html", {
        "nav": "licenses", "diff": diff,
        "added": [clause(c) for c in diff["added"]], "removed": [clause(c) for c in diff["removed"]],
        "common": [clause(c) for c in diff["common"]],
    })


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


# ------------------------------------------------------------------------------ models
_VERDICT_ORDER = {"violation": 0, "cannot-tell": 1, "compliant": 2}


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, q: str = Query("", max_length=300)):
    from .api_models import search_models

    state = get_state(request)
    q = q.strip()
    result = search_models(state, q, 100) if q else None
    if result and result["models"] and result["models"][0]["id"].lower() == q.lower():
        return RedirectResponse(f"/models/{quote(result['models'][0]['id'], safe='/')}", status_code=303)
    top = None
    if not q:
        with state.cursor() as cur:
            top = [
                {"id": r[0], "children": r[1], "licenses": list(r[2] or [])}
                for r in cur.execute(
                    "SELECT b.base_id, count(*) AS n, any_value(m.licenses) FROM base_models b"
                    " LEFT JOIN models m ON m.model_id = b.base_id GROUP BY b.base_id ORDER BY n DESC, b.base_id LIMIT 15"
                ).fetchall()
            ]
    return page(request, "models.html", {"nav": "models", "q": q, "result": result, "top": top})


@router.get("/models/{model_id:path}", response_class=HTMLResponse)
def model_page(
    request: Request,
    model_id: str = FastPath(..., min_length=1, max_length=300),
    verdict: str = Query("", max_length=20, description="Show only derivatives with this verdict"),
    in_store: bool = Query(True, description="Only derivatives the store has metadata for"),
    page_no: int = Query(1, alias="page", ge=1, le=100_000),
):
    from .api_models import lineage, lineage_tree, model_record, run_audit

    state = get_state(request)
    info = lineage(state, model_id)
    tree = lineage_tree(state, model_id) if info["descendants"]["total"] else None
    record = model_record(state, model_id)
    own = run_audit(state, model_id, descendants=False)["derivatives"][0]
    report = run_audit(state, model_id, descendants=True) if info["descendants"]["total"] else None
    rows: list[dict[str, Any]] = []
    total_rows = 0
    if report is not None:
        rows = list(report["derivatives"])  # the report is cached: never reorder it in place
        if in_store:
            rows = [d for d in rows if d.get("in_store", True)]
        if verdict:
            rows = [d for d in rows if d["verdict"] == verdict]
        rows.sort(key=lambda d: (_VERDICT_ORDER.get(d["verdict"], 3), d["depth"], d["id"]))
        total_rows = len(rows)
    per_page = 100
    pages = max(1, (total_rows + per_page - 1) // per_page)
    shown = rows[(page_no - 1) * per_page: page_no * per_page]
    with state.cursor() as cur:
        watched = cur.execute("SELECT 1 FROM watchlist WHERE model_id = ?", [model_id]).fetchone() is not None
    return page(request, "model.html", {
        "nav": "models",
        "model_id": model_id,
        "record": record,
        "lineage": info,
        "tree": tree,
        "own": own,
        "report": report,
        "rows": shown,
        "total_rows": total_rows,
        "verdict": verdict,
        "in_store": in_store,
        "page_no": page_no,
        "pages": pages,
        "watched": watched,
    })


@router.get("/watchlist", response_class=HTMLResponse)
def watchlist_page(request: Request):
    from .api_models import watchlist

    return page(request, "watchlist.html", {"nav": "watchlist", "data": watchlist(get_state(request)), "result": None})


@router.post("/watchlist", response_class=HTMLResponse)
async def watchlist_form(request: Request):
    """Form posts from the watchlist and model pages: ``action=add`` (with ``model_id``) or ``run``."""
    from starlette.concurrency import run_in_threadpool

    from ...errors import RailtrackError
    from .api_models import WatchIn, api_watch_add, api_watch_run, watchlist

    state = get_state(request)
    form = await request.form()
    action = str(form.get("action", "add"))
    result = None
    error = ""
    try:
        if action == "run":
            result = await run_in_threadpool(api_watch_run, request)
        else:
            model_id = str(form.get("model_id", "")).strip()
            if not model_id or len(model_id) > 300:
                raise RailtrackError("give a model id (at most 300 characters)")
            await run_in_threadpool(api_watch_add, request, WatchIn(model_id=model_id))
            return RedirectResponse("/watchlist", status_code=303)
    except RailtrackError as exc:
        error = exc.message
    data = await run_in_threadpool(watchlist, state)
    return page(request, "watchlist.html", {"nav": "watchlist", "data": data, "result": result, "error": error},
                status_code=422 if error else 200)


# ------------------------------------------------------------------------------ dashboard
@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(
    request: Request,
    since: str = Query("", max_length=10),
    until: str = Query("", max_length=10),
):
    """Adoption dashboard: charts (SVG from railtrack.reports.charts), tables, CSV links."""
    from urllib.parse import urlencode

    from ...errors import RailtrackError
    from ...reports.common import HUB_CAVEAT, NoDataError
    from .api_reports import report_data

    state = get_state(request)
    since_v, until_v = since.strip() or None, until.strip() or None
    query = urlencode({k: v for k, v in (("since", since_v), ("until", until_v)) if v})
    ctx: dict[str, Any] = {"nav": "dashboard", "since": since_v or "", "until": until_v or "", "query": query,
                           "caveat": HUB_CAVEAT, "error": "", "empty": False}
    try:
        ctx["adoption"] = report_data(state, "adoption", since_v, until_v)
        ctx["licenses"] = report_data(state, "licenses", since_v, until_v)
        ctx["clauses"] = report_data(state, "clauses", since_v, until_v)
    except NoDataError as exc:
        ctx.update(empty=True, error=exc.message)
        return page(request, "dashboard.html", ctx)
    except RailtrackError as exc:
        ctx.update(error=exc.message)
        return page(request, "dashboard.html", ctx, status_code=422)
    return page(request, "dashboard.html", ctx)


# ------------------------------------------------------------------------------ text check
def _check_page(request: Request, text: str = "", result: dict | None = None, error: str = "",
                windows: bool = False, status_code: int = 200):
    from .api_watermark import enabled

    state = get_state(request)
    if not enabled(state):
        from ...errors import NotFoundError

        raise NotFoundError("the text check is off: start the server with --watermark-key KEY")
    segments = None
    if result is not None and result.get("token_mask"):
        segments = []
        pos = 0
        for tok in result["token_mask"]:
            if tok["start"] > pos:
                segments.append({"text": text[pos:tok["start"]], "cls": ""})
            cls = "" if tok["green"] is None else ("token-green" if tok["green"] else "token-red")
            segments.append({"text": tok["text"], "cls": cls})
            pos = max(pos, tok["end"])
        if pos < len(text):
            segments.append({"text": text[pos:], "cls": ""})
    return page(request, "check.html", {"nav": "check", "text": text, "result": result, "error": error,
                                        "segments": segments, "windows": windows}, status_code=status_code)


@router.get("/check", response_class=HTMLResponse)
def check_page(request: Request):
    return _check_page(request)


@router.post("/check", response_class=HTMLResponse)
async def check_form(request: Request):
    from starlette.concurrency import run_in_threadpool

    from ...errors import RailtrackError
    from .api_watermark import MAX_TEXT, check_text

    form = await request.form()
    text = str(form.get("text", ""))
    windows = form.get("windows") == "true"
    if not text.strip():
        return _check_page(request, text, error="paste some text to check", windows=windows, status_code=422)
    if len(text) > MAX_TEXT:
        return _check_page(request, text[:MAX_TEXT], error=f"the text is longer than {MAX_TEXT:,} characters",
                           windows=windows, status_code=422)
    try:
        result = await run_in_threadpool(check_text, get_state(request), text, windows=windows, mask=True)
    except RailtrackError as exc:
        return _check_page(request, text, error=exc.message, windows=windows, status_code=422)
    return _check_page(request, text, result=result, windows=windows)
