"""Heavy download formats rendered in worker processes (``render_processes``): same bytes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from railtrack.licenses import parse_manifest, render
from railtrack.web import create_app

MANIFEST = {
    "name": "Heron-3B",
    "licensor": 'Heron & Co <script>alert("x")</script>',
    "flavor": "rail",
    "artifacts": ["model", "data"],
    "restrictions": ["military.military-use"],
    "custom_restrictions": [{"text": r"No \input{/etc/passwd} in 50% of cases.", "domain": "general"}],
}


def test_worker_processes_render_the_same_bytes_in_every_format():
    app = create_app(":memory:", rate_limit=0, render_processes=1)
    state = app.state.railtrack
    spec = parse_manifest(MANIFEST)
    with TestClient(app) as client:
        assert state.render_pool() is not None  # started with the app
        lid = client.post("/api/licenses", json=MANIFEST).json()["id"]
        for fmt in ("pdf", "html", "md", "txt", "tex", "json", "card", "notice", "badge"):
            first = client.get(f"/api/licenses/{lid}", params={"format": fmt})
            assert first.status_code == 200, fmt
            assert first.content == render(spec, fmt), fmt
            again = client.get(f"/api/licenses/{lid}", params={"format": fmt})  # from the cache
            assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert state._render_pool is None  # shut down with the app


def test_a_dead_worker_falls_back_to_rendering_in_the_server():
    app = create_app(":memory:", rate_limit=0, render_processes=1)
    state = app.state.railtrack
    spec = parse_manifest(MANIFEST)
    with TestClient(app) as client:
        pool = state.render_pool()
        for proc in list(pool._processes.values()):
            proc.kill()
            proc.join()
        lid = client.post("/api/licenses", json=MANIFEST).json()["id"]
        resp = client.get(f"/api/licenses/{lid}", params={"format": "pdf"})
        assert resp.status_code == 200 and resp.content == render(spec, "pdf")
        assert state.render_pool() is not pool  # a fresh pool for the next heavy render


def test_render_processes_default_off_and_from_the_environment(monkeypatch):
    assert create_app(":memory:").state.railtrack.render_processes == 0
    monkeypatch.setenv("RAILTRACK_WEB_RENDER_PROCESSES", "3")
    assert create_app(":memory:").state.railtrack.render_processes == 3
