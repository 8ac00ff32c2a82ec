"""License generator through the web app: API, pages, form fallback, downloads, escaping, limits."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from railtrack.licenses import FORMATS, LicenseSpec, license_id, parse_manifest, render
from railtrack.web import create_app

MANIFEST = {
    "name": "Aurora-7B",
    "licensor": "Aurora Research Collective",
    "flavor": "open",
    "artifacts": ["model", "source", "application"],
    "restrictions": ["military.military-use", "health.medical-advice"],
    "custom_restrictions": [{"text": "To run unattended high-frequency trading with client funds.", "domain": "general"}],
}

XSS = '<script>alert("x")</script>"><img src=x onerror=alert(1)>'
TEX = r"\input{/etc/passwd}\write18{id}$\x$%_#&~^{}"


@pytest.fixture
def client():
    with TestClient(create_app(":memory:", rate_limit=0)) as c:
        yield c


def test_create_returns_id_title_links_and_markdown(client):
    resp = client.post("/api/licenses", json=MANIFEST)
    assert resp.status_code == 201
    data = resp.json()
    spec = LicenseSpec.model_validate(MANIFEST)
    assert data["id"] == license_id(spec)
    assert data["title"] == "Aurora-7B OpenRAIL-AMS"
    assert data["markdown"] == render(spec, "md").decode("utf-8")
    assert data["url"] == f"/licenses/{data['id']}" and resp.headers["location"] == data["url"]
    assert set(data["downloads"]) == set(FORMATS)
    again = client.post("/api/licenses", json=MANIFEST)
    assert again.status_code == 200 and again.json()["id"] == data["id"] and again.json()["created"] is False


def test_the_cli_json_manifest_is_accepted_as_is(client):
    """POST /api/licenses takes exactly what `railtrack license new --format json` writes."""
    written = json.loads(render(LicenseSpec.model_validate(MANIFEST), "json"))
    assert {"license_id", "title", "spdx_id"} <= set(written)
    resp = client.post("/api/licenses", json=written)
    assert resp.status_code == 201
    assert resp.json()["id"] == written["license_id"]
    # and the json download is that same file again
    assert json.loads(client.get(f"/api/licenses/{written['license_id']}?format=json").content) == written


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_downloads_the_renderer_bytes_stably(client, fmt):
    lid = client.post("/api/licenses", json=MANIFEST).json()["id"]
    spec = LicenseSpec.model_validate(MANIFEST)
    first = client.get(f"/api/licenses/{lid}", params={"format": fmt})
    assert first.status_code == 200
    assert first.content == render(spec, fmt)
    assert first.headers["content-disposition"].startswith("attachment; filename=")
    second = client.get(f"/api/licenses/{lid}", params={"format": fmt})
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
    cached = client.get(f"/api/licenses/{lid}", params={"format": fmt}, headers={"if-none-match": first.headers["etag"]})
    assert cached.status_code == 304


def test_same_bytes_from_a_new_app_on_the_same_store(tmp_path):
    db = tmp_path / "s.duckdb"
    with TestClient(create_app(db, rate_limit=0)) as c:
        lid = c.post("/api/licenses", json=MANIFEST).json()["id"]
        pdf = c.get(f"/api/licenses/{lid}?format=pdf").content
        tex = c.get(f"/api/licenses/{lid}?format=tex").content
    with TestClient(create_app(db, rate_limit=0)) as c:
        assert c.get(f"/api/licenses/{lid}?format=pdf").content == pdf
        assert c.get(f"/api/licenses/{lid}?format=tex").content == tex
    assert pdf.startswith(b"%PDF")


def test_preview_does_not_store(client):
    resp = client.post("/api/licenses/preview", json=MANIFEST)
    assert resp.status_code == 200
    assert resp.json()["title"] == "Aurora-7B OpenRAIL-AMS"
    assert client.get(f"/api/licenses/{resp.json()['id']}").status_code == 404
    assert client.get("/api/licenses").json()["total"] == 0


@pytest.mark.parametrize(
    "body, message",
    [
        ({**MANIFEST, "artifacts": []}, "at least one artifact"),
        ({**MANIFEST, "restrictions": ["military.militaryuse"]}, "did you mean 'military.military-use'"),
        ({**MANIFEST, "flavor": "closed"}, "flavor"),
        ({**MANIFEST, "custom_restrictions": [{"text": "x" * 2001, "domain": "general"}]}, "the limit is 2000"),
        ({**MANIFEST, "custom_restrictions": [{"text": "   ", "domain": "general"}]}, "empty"),
        ({**MANIFEST, "surprise": 1}, "surprise"),
        ({"name": "x"}, "licensor"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_manifests_are_422_with_one_readable_line(client, body, message):
    resp = client.post("/api/licenses", json=body)
    assert resp.status_code == 422
    detail = resp.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and message in detail


def test_invalid_json_and_bad_ids_are_readable(client):
    resp = client.post("/api/licenses", content=b"{not json", headers={"content-type": "application/json"})
    assert resp.status_code == 422 and resp.json()["detail"].startswith("body: not valid JSON")
    assert client.get("/api/licenses/rt-000000000000").status_code == 404
    bad = client.get("/api/licenses/../../etc/passwd")
    assert bad.status_code in (404, 422)
    assert client.get("/api/licenses/rt-zz").status_code == 422
    assert client.get("/api/licenses/rt-000000000000?format=exe").status_code == 422


def test_rate_limit_on_license_creation_is_per_client_and_configurable():
    with TestClient(create_app(":memory:", rate_limit=2)) as c:
        codes = [c.post("/api/licenses", json={**MANIFEST, "name": f"M{i}"}).status_code for i in range(4)]
        assert codes[:2] == [201, 201] and codes[2:] == [429, 429]
        limited = c.post("/api/licenses", json=MANIFEST)
        assert "at most 2 a minute" in limited.json()["detail"] and int(limited.headers["retry-after"]) >= 1
        # reading is never limited
        assert all(c.get("/api/catalog").status_code == 200 for _ in range(5))
    with TestClient(create_app(":memory:", rate_limit=0)) as c:
        assert all(c.post("/api/licenses", json={**MANIFEST, "name": f"M{i}"}).status_code == 201 for i in range(40))


def test_rate_limit_from_environment(monkeypatch):
    monkeypatch.setenv("RAILTRACK_WEB_RATE_LIMIT", "1")
    with TestClient(create_app(":memory:")) as c:
        assert c.post("/api/licenses", json=MANIFEST).status_code == 201
        assert c.post("/api/licenses", json={**MANIFEST, "name": "B"}).status_code == 429


def test_license_page_has_every_download_and_the_copyable_card(client):
    lid = client.post("/api/licenses", json=MANIFEST).json()["id"]
    page = client.get(f"/licenses/{lid}")
    assert page.status_code == 200
    assert "Aurora-7B OpenRAIL-AMS" in page.text
    for fmt in FORMATS:
        assert f'href="/api/licenses/{lid}?format={fmt}"' in page.text
    assert 'id="card-block"' in page.text and 'data-copy-target="card-block"' in page.text
    assert "license: other" in page.text
    listing = client.get("/licenses")
    assert f'href="/licenses/{lid}"' in listing.text


def test_generator_page_groups_restrictions_and_locks_the_baseline(client):
    from railtrack.catalog.clauses import load_catalog

    cat = load_catalog()
    html = client.get("/generator").text
    for domain in cat.domains():
        assert f'data-domain="{domain}"' in html
    for clause in cat:
        assert f'value="{clause.id}"' in html
    for clause in cat.baseline():
        assert re.search(rf'value="{re.escape(clause.id)}" checked disabled data-baseline="1"', html)
    for artifact in ("application", "model", "source", "data"):
        assert f'name="artifacts" value="{artifact}"' in html
    assert '<script src="/static/generator.js" defer></script>' in html


def test_generator_starts_from_a_recorded_license(client):
    lid = client.post("/api/licenses", json=MANIFEST).json()["id"]
    html = client.get("/generator", params={"from": lid}).text
    assert 'value="Aurora-7B"' in html
    assert re.search(r'value="military.military-use" checked', html)
    assert "unattended high-frequency trading" in html


def test_form_post_without_javascript_creates_and_redirects(client):
    form = {
        "name": "Form Model", "licensor": "Form Labs", "flavor": "research", "artifacts": ["model", "data"],
        "restrictions": ["health.medical-advice"], "custom_text": ["To grade exams without human review."],
        "custom_domain": ["general"], "notice": "Copyright 2026 Form Labs",
    }
    resp = client.post("/licenses", data=form, follow_redirects=False)
    assert resp.status_code == 303
    lid = resp.headers["location"].rsplit("/", 1)[-1]
    spec = parse_manifest(json.loads(client.get(f"/api/licenses/{lid}?format=json").content))
    assert spec.title == "Form Model RESEARCH-ONLY RAIL-DM"
    assert spec.commercial_use is False  # the box was not ticked
    assert [c.text for c in spec.custom_restrictions] == ["To grade exams without human review."]
    bad = client.post("/licenses", data={**form, "name": ""}, follow_redirects=False)
    assert bad.status_code == 422 and "name must not be empty" in bad.text
    assert 'value="Form Labs"' in bad.text  # what the user typed is kept


TEXT_FIELDS = ["name", "licensor", "notice", "jurisdiction", "info", "custom"]


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_xss_and_latex_payloads_are_escaped_everywhere(client, field):
    payload = f"{XSS} {TEX}"
    body = dict(MANIFEST)
    if field == "custom":
        body["custom_restrictions"] = [{"text": payload, "domain": "general"}]
    else:
        body[field] = payload[:190] if field in ("name", "licensor", "jurisdiction") else payload
    resp = client.post("/api/licenses", json=body)
    assert resp.status_code == 201, resp.text
    lid = resp.json()["id"]
    page = client.get(f"/licenses/{lid}").text
    variant = client.get("/generator", params={"from": lid}).text
    html_dl = client.get(f"/api/licenses/{lid}?format=html").text
    badge = client.get(f"/api/licenses/{lid}?format=badge").text
    for html in (page, variant, html_dl, badge):
        assert "<script>alert" not in html
        assert "<img src=x" not in html
    assert "&lt;script&gt;" in page or "&lt;script&gt;" in variant
    tex = client.get(f"/api/licenses/{lid}?format=tex").text
    assert "\\input{" not in tex and "\\write18{" not in tex
    md = client.get(f"/api/licenses/{lid}?format=md").text
    assert "<script>" not in md
    listing = client.get("/licenses").text
    assert "<script>alert" not in listing


def test_compare_two_licenses_clause_by_clause(client):
    a = client.post("/api/licenses", json=MANIFEST).json()["id"]
    other = {**MANIFEST, "name": "Borealis", "flavor": "rail", "restrictions": ["biometrics.remote-identification"],
             "custom_restrictions": [{"text": f"To rank job applicants. {XSS}", "domain": "discrimination"}]}
    b = client.post("/api/licenses", json=other).json()["id"]
    diff = client.get(f"/api/licenses/{a}/diff/{b}").json()
    assert diff["added"] == ["biometrics.remote-identification"]
    assert set(diff["removed"]) == {"military.military-use", "health.medical-advice"}
    assert diff["fields"]["flavor"] == ["open", "rail"]
    page = client.get(f"/licenses/{a}/compare", params={"with": b})
    assert page.status_code == 200
    assert "Remote biometric identification" in page.text and "Military use" in page.text
    assert "<script>alert" not in page.text
    assert f'<option value="{b}">' in client.get(f"/licenses/{a}").text
    assert client.get(f"/api/licenses/{a}/diff/rt-000000000000").status_code == 404


def test_concurrent_creations_are_group_committed_and_each_answered(tmp_path):
    """Many clients creating at once (some the same license): every request gets its own id and
    the right created flag, and the store holds each license exactly once."""
    import asyncio

    import httpx

    from railtrack.store import connect

    app = create_app(tmp_path / "s.duckdb", rate_limit=0)
    manifests = [dict(MANIFEST, name=f"Model {i % 30}") for i in range(60)]  # 30 distinct, each twice

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            return await asyncio.gather(*(http.post("/api/licenses", json=m) for m in manifests))

    responses = asyncio.run(main())
    assert all(r.status_code in (200, 201) for r in responses)
    ids = [r.json()["id"] for r in responses]
    assert ids == [license_id(parse_manifest(m)) for m in manifests]
    created = [r.json()["created"] for r in responses]
    assert sum(created) == 30 and all((r.status_code == 201) == r.json()["created"] for r in responses)
    app.state.railtrack.close()
    con = connect(tmp_path / "s.duckdb")
    assert con.execute("SELECT count(*), count(DISTINCT license_id) FROM generated_licenses").fetchone() == (30, 30)
    con.close()
