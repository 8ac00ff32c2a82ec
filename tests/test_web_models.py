"""Model pages and API on the bundled real Hub sample: search, lineage, audit verdicts, watchlist."""

from __future__ import annotations

import shutil
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from railtrack.web import create_app

LLAMA = "meta-llama/Llama-2-7b-chat-hf"
# A real child of Llama-2-7b-chat-hf in the bundled sample that declares apache-2.0.
APACHE_CHILD = "armanbabayan/Llama2_Immigration_Low_Chat"


@pytest.fixture(scope="module")
def hub_db(tmp_path_factory):
    from railtrack.hub import import_paths
    from railtrack.hub.sample import sample_paths
    from railtrack.store import connect

    db = tmp_path_factory.mktemp("webmodels") / "hub.duckdb"
    con = connect(db)
    import_paths(con, sample_paths(), fmt="trees")
    con.close()
    return db


@pytest.fixture
def client(hub_db, tmp_path):
    db = tmp_path / "store.duckdb"
    shutil.copyfile(hub_db, db)  # each test gets its own store: watch runs write to it
    with TestClient(create_app(db)) as c:
        yield c


def test_search_finds_models_and_exact_id_redirects(client):
    data = client.get("/api/models", params={"q": "llama-2-7b"}).json()
    assert data["total"] >= 10
    assert all("llama-2-7b" in m["id"].lower() for m in data["models"])
    page = client.get("/models", params={"q": "Llama2_Immigration"})
    assert page.status_code == 200 and APACHE_CHILD in page.text
    exact = client.get("/models", params={"q": LLAMA}, follow_redirects=False)
    assert exact.status_code == 303 and exact.headers["location"] == f"/models/{LLAMA}"


def test_search_treats_like_wildcards_literally(client):
    assert client.get("/api/models", params={"q": "%"}).json()["total"] == 0
    assert client.get("/api/models", params={"q": "_"}).json()["total"] >= 1  # ids with an underscore


def test_model_api_gives_record_and_lineage(client):
    data = client.get(f"/api/models/{APACHE_CHILD}").json()
    assert data["record"]["licenses"] == ["apache-2.0"]
    assert {"id": LLAMA, "relation": "finetune"} in data["lineage"]["parents"]
    assert [a["id"] for a in data["lineage"]["ancestors"]] == [LLAMA]
    base = client.get(f"/api/models/{LLAMA}/lineage").json()
    assert base["descendants"]["total"] > 100
    assert set(base["descendants"]["by_relation"]) <= {"finetune", "adapter", "quantized", "merge", "unknown"}


def test_apache_child_of_llama2_is_a_pass_through_violation(client):
    data = client.get(f"/api/models/{APACHE_CHILD}/audit").json()
    (entry,) = data["derivatives"]
    assert entry["verdict"] == "violation"
    rules = {r["rule"]: r for r in entry["rules"]}
    assert rules["llama2/passthrough"]["verdict"] == "violation"
    assert "apache-2.0" in rules["llama2/passthrough"]["reason"]


def test_descendant_audit_lists_violations_with_evidence(client):
    data = client.get(f"/api/models/{LLAMA}/audit", params={"descendants": "true"}).json()
    violators = {d["id"] for d in data["derivatives"] if d["verdict"] == "violation"}
    assert APACHE_CHILD in violators
    assert data["summary"]["verdicts"]["violation"] == len(violators)
    # the model page shows the same violation, with its rule and evidence
    page = client.get(f"/models/{LLAMA}", params={"verdict": "violation"})
    assert page.status_code == 200
    assert page.text.count('data-verdict="violation"') == min(100, len(violators))
    assert APACHE_CHILD in page.text and "llama2/passthrough" in page.text
    assert "declared_license: apache-2.0" in page.text
    # the family tree lists the child under its base, with the relation
    tree = page.text[page.text.index('id="lineage-tree"'):]
    assert f'<a href="/models/{APACHE_CHILD}">{APACHE_CHILD}</a> <span class="muted small">finetune' in tree


def test_model_page_of_a_child(client):
    page = client.get(f"/models/{APACHE_CHILD}")
    assert page.status_code == 200
    assert 'id="own-verdict">violation<' in page.text
    assert f'href="/models/{LLAMA}"' in page.text
    assert 'id="declared-license">apache-2.0<' in page.text


def test_unknown_model_is_404_on_page_and_api(client):
    assert client.get("/api/models/nobody/nothing/audit").status_code == 404
    resp = client.get("/models/nobody/nothing", headers={"accept": "text/html"})
    assert resp.status_code == 404 and "not in the store" in resp.text


def test_model_ids_are_escaped_in_pages(client):
    evil = "<img src=x onerror=alert(1)>"
    resp = client.get("/models", params={"q": evil})
    assert resp.status_code == 200
    assert evil not in resp.text and "&lt;img src=x onerror=alert(1)&gt;" in resp.text
    resp = client.get("/models/" + quote(evil, safe=""), headers={"accept": "text/html"})
    assert resp.status_code == 404 and evil not in resp.text


def test_watchlist_add_and_run(client):
    resp = client.post("/api/watchlist", json={"model_id": LLAMA})
    assert resp.status_code == 201
    assert [m["model"] for m in resp.json()["models"]] == [LLAMA]
    run = client.post("/api/watchlist/run")
    assert run.status_code == 200
    page = client.get("/watchlist")
    assert LLAMA in page.text and "violation" in page.text
    missing = client.post("/api/watchlist", json={"model_id": "nobody/nothing"})
    assert missing.status_code == 404
    form = client.post("/watchlist", data={"action": "add", "model_id": ""})
    assert form.status_code == 422 and "give a model id" in form.text


def test_watch_run_page_reports_new_violations_and_csv_export(client):
    client.post("/api/watchlist", json={"model_id": LLAMA})
    resp = client.post("/watchlist", data={"action": "run"})
    assert resp.status_code == 200
    assert "new violations" in resp.text and APACHE_CHILD in resp.text
    csv_text = client.get(f"/api/models/{LLAMA}/audit.csv", params={"descendants": "true"}).text
    header = csv_text.splitlines()[0]
    assert header.startswith("id,relation,depth,declared_license,verdict,rule")
    assert any(line.startswith(APACHE_CHILD + ",") and "llama2/passthrough,violation" in line
               for line in csv_text.splitlines())
    assert client.delete(f"/api/watchlist/{LLAMA}").json()["models"] == []


# ------------------------------------------------------------------------------ dashboard
def test_dashboard_numbers_match_the_reports_library(client, hub_db):
    from railtrack.reports import adoption, licenses_report
    from railtrack.store import connect

    con = connect(hub_db, read_only=True)
    try:
        expected = adoption(con)
        top = licenses_report(con)
    finally:
        con.close()
    api = client.get("/api/reports/adoption").json()
    assert api["total_models"] == expected["total_models"] and api["by_month"] == expected["by_month"]
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert f'id="stat-models">{expected["total_models"]:,}<' in page.text
    for row in top["top"][:5]:
        assert row["license"] in page.text
    for chart in ("adoption", "licenses", "clauses"):
        svg = client.get(f"/api/reports/{chart}/chart.svg")
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        assert svg.content.lstrip().startswith(b"<?xml") and b"<script" not in svg.content
        assert "script-src" not in svg.headers["content-security-policy"]


def test_dashboard_csv_is_the_numbers_behind_each_chart(client):
    import csv
    import io

    adoption_rows = list(csv.DictReader(io.StringIO(client.get("/api/reports/adoption.csv").text)))
    api = client.get("/api/reports/adoption").json()
    assert [r["month"] for r in adoption_rows] == [m["month"] for m in api["by_month"]]
    assert sum(int(r["models"]) for r in adoption_rows) == api["total_models"] - api["undated"]
    top = list(csv.DictReader(io.StringIO(client.get("/api/reports/licenses.csv").text)))
    assert top[0]["license"] == client.get("/api/reports/licenses").json()["top"][0]["license"]
    families = client.get("/api/reports/adoption.csv", params={"table": "families"})
    assert families.text.startswith("family,models,behavioral_use")
    assert "attachment" in families.headers["content-disposition"]
    clauses = client.get("/api/reports/clauses.csv").text
    assert clauses.startswith("population,month,count")


def test_dashboard_date_filters(client):
    everything = client.get("/api/reports/adoption").json()["total_models"]
    recent = client.get("/api/reports/adoption", params={"since": "2024-01-01"}).json()
    assert 0 < recent["total_models"] < everything
    assert all(m["month"] >= "2024-01" for m in recent["by_month"])
    page = client.get("/dashboard", params={"since": "2024-01-01", "until": "2024-12-31"})
    assert page.status_code == 200
    assert 'src="/api/reports/adoption/chart.svg?since=2024-01-01&amp;until=2024-12-31"' in page.text
    bad = client.get("/dashboard", params={"since": "2024-13-40"})
    assert bad.status_code == 422 and "invalid" in bad.text
    assert client.get("/api/reports/adoption", params={"since": "yesterday"}).status_code == 422


def test_dashboard_on_an_empty_store_explains_how_to_get_data():
    with TestClient(create_app(":memory:")) as c:
        page = c.get("/dashboard")
        assert page.status_code == 200 and "railtrack hub import" in page.text
        assert c.get("/api/reports/adoption").status_code == 404


def test_dashboard_offers_the_self_contained_html_report(client):
    page = client.get("/dashboard", params={"since": "2024-01-01"})
    assert 'href="/api/reports/html?since=2024-01-01"' in page.text
    resp = client.get("/api/reports/html", params={"since": "2024-01-01"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    assert "attachment" in resp.headers["content-disposition"]
    assert "<svg" in resp.text and "<script" not in resp.text
    assert "script-src" not in resp.headers["content-security-policy"]


def test_watch_runs_share_the_rate_limit(hub_db, tmp_path):
    db = tmp_path / "store.duckdb"
    shutil.copyfile(hub_db, db)
    with TestClient(create_app(db, rate_limit=2)) as c:
        assert c.post("/api/watchlist", json={"model_id": LLAMA}).status_code == 201
        assert c.post("/api/watchlist/run").status_code == 200
        limited = c.post("/api/watchlist/run")
        assert limited.status_code == 429 and "retry-after" in limited.headers
