"""The web app's plumbing: security headers, body limit, rate limiter, errors, catalogue API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from railtrack.web import create_app
from railtrack.web.security import CSP, RateLimiter


@pytest.fixture
def client():
    app = create_app(":memory:", rate_limit=3)
    with TestClient(app) as c:
        yield c


def test_pages_carry_security_headers_and_no_inline_script(client):
    resp = client.get("/")
    assert resp.status_code == 200
    assert resp.headers["content-security-policy"] == CSP
    assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["x-frame-options"] == "DENY"
    html = resp.text
    # every script is a local file; no inline handlers, nothing from another origin
    assert "<script>" not in html and "onclick=" not in html
    assert 'src="http' not in html and 'href="http' not in html and "//cdn" not in html


def test_static_assets_are_local(client):
    for path in ("/static/app.css", "/static/generator.js", "/static/copy.js", "/static/favicon.svg"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert b"https://" not in resp.content, path


def test_catalog_api_lists_every_clause_grouped_by_domain(client):
    from railtrack.catalog.clauses import load_catalog

    cat = load_catalog()
    data = client.get("/api/catalog").json()
    assert data["version"] == cat.version
    assert [c["id"] for c in data["clauses"]] == cat.ids()
    assert {d["id"] for d in data["domains"]} == set(cat.domains())
    baseline = [c["id"] for c in data["clauses"] if c["baseline"]]
    assert baseline == [c.id for c in cat.baseline()] and len(baseline) >= 10
    one = client.get("/api/catalog", params={"domain": "military"}).json()
    assert one["clauses"] and all(c["domain"] == "military" for c in one["clauses"])


def test_unknown_domain_is_404_with_a_readable_line(client):
    resp = client.get("/api/catalog", params={"domain": "nope"})
    assert resp.status_code == 404
    assert resp.json()["detail"].startswith("unknown domain 'nope'")


def test_unknown_page_is_an_html_404_and_unknown_api_path_json(client):
    page = client.get("/no/such/page", headers={"accept": "text/html"})
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "no page at /no/such/page" in page.text
    api = client.get("/api/nothing-here")
    assert api.status_code == 404 and api.json()["detail"]


def test_error_pages_escape_the_path(client):
    resp = client.get("/<script>alert(1)</script>", headers={"accept": "text/html"})
    assert resp.status_code == 404
    assert "<script>alert(1)</script>" not in resp.text
    assert "&lt;script&gt;" in resp.text


def test_body_over_the_limit_is_413_before_the_app_reads_it():
    app = create_app(":memory:", max_body_bytes=1000)
    with TestClient(app) as c:
        resp = c.post("/api/licenses", content=b"{" + b" " * 5000 + b"}", headers={"content-type": "application/json"})
        assert resp.status_code == 413
        assert "limit is 1000 bytes" in resp.json()["detail"]
        assert resp.headers["x-content-type-options"] == "nosniff"

        def chunks():
            for _ in range(10):
                yield b" " * 400

        streamed = c.post("/api/licenses", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413


def test_rate_limiter_token_bucket():
    now = [0.0]
    limiter = RateLimiter(per_minute=6, burst=2, clock=lambda: now[0])
    assert limiter.check("a") == 0 and limiter.check("a") == 0
    wait = limiter.check("a")
    assert wait == pytest.approx(10.0)  # 6 a minute: one token every 10 s
    assert limiter.check("b") == 0  # other clients have their own bucket
    now[0] += 10.0
    assert limiter.check("a") == 0
    assert limiter.check("a") > 0
    off = RateLimiter(per_minute=0)
    assert not off.enabled and all(off.check("x") == 0 for _ in range(1000))


def test_rate_limiter_forgets_least_recent_clients():
    limiter = RateLimiter(per_minute=60, max_clients=3)
    for client in "abcd":
        limiter.check(client)
    assert list(limiter._buckets) == ["b", "c", "d"]


def test_api_reference_page_lists_the_api(client):
    resp = client.get("/api")
    assert resp.status_code == 200
    assert "/api/catalog" in resp.text
    schema = client.get("/openapi.json").json()
    assert "/api/catalog" in schema["paths"]
    # no CDN-backed Swagger UI: the app works offline
    assert client.get("/docs").status_code == 404


def test_cross_site_posts_are_refused_same_site_and_scripts_pass(client):
    body = {"name": "A", "licensor": "B", "flavor": "open", "artifacts": ["model"]}
    evil = client.post("/api/licenses", json=body, headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"})
    assert evil.status_code == 403 and evil.json()["detail"] == "cross-site request refused"
    form = client.post("/watchlist", data={"action": "run"}, headers={"origin": "https://evil.example"})
    assert form.status_code == 403
    other_port = client.post("/watchlist", data={"action": "run"}, headers={"sec-fetch-site": "same-site"})
    assert other_port.status_code == 403  # another app on localhost:another-port is same-site, not same-origin
    # a form post after a no-referrer page may carry Origin: null; Sec-Fetch-Site decides
    own_form = client.post("/watchlist", data={"action": "run"}, headers={"origin": "null", "sec-fetch-site": "same-origin"})
    assert own_form.status_code == 200
    same = client.post("/api/licenses", json=body, headers={"origin": "http://testserver", "sec-fetch-site": "same-origin"})
    assert same.status_code == 201
    assert client.post("/api/licenses/preview", json=body).status_code == 200  # no Origin: curl, scripts
    assert client.get("/", headers={"origin": "https://evil.example"}).status_code == 200  # reading is fine


def test_allowed_hosts_refuse_rebound_dns_names():
    app = create_app(":memory:", allowed_hosts=["127.0.0.1", "localhost", "testserver"])
    with TestClient(app) as c:
        assert c.get("/").status_code == 200
        resp = c.get("/", headers={"host": "attacker.example"})
        assert resp.status_code == 400 and "unexpected Host" in resp.json()["detail"]
        assert c.get("/", headers={"host": "localhost:8000"}).status_code == 200
