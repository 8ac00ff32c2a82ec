"""Reports on a dataset whose true counts the tests know; charts, HTML escaping, CLI forms."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from itertools import combinations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from railtrack.hub import import_paths
from railtrack.reports import NoDataError, adoption, clauses_report, licenses_report
from railtrack.reports.charts import chart
from railtrack.reports.clauses import jaccard, mean_pairwise_jaccard
from railtrack.reports.render import html_report, to_csv
from railtrack.store import connect

# month -> list of (license or None, downloads). Behavioral: llama2, openrail, creativeml-openrail-m,
# and `other` + license_name "Llama 2 Community License Agreement".
DATA = {
    "2023-01": [("llama2", 100), ("mit", 10), (None, 1), ("apache-2.0", 5)],
    "2023-02": [("openrail", 50), ("openrail", 50), ("mit", 0)],
    "2023-04": [("other:llama", 40), ("other:custom", 3), ("creativeml-openrail-m", 7), (None, 0), (None, 2)],
}


def hub_stats_table(rows: list[dict]) -> pa.Table:
    cols = ["id", "author", "createdAt", "lastModified", "cardData", "downloads", "likes", "tags"]
    return pa.table({
        "id": pa.array([r["id"] for r in rows], pa.string()),
        "author": pa.array([r["id"].split("/")[0] for r in rows], pa.string()),
        "createdAt": pa.array([r["createdAt"] for r in rows], pa.timestamp("ms", tz="UTC")),
        "lastModified": pa.array([r["createdAt"] for r in rows], pa.timestamp("ms", tz="UTC")),
        "cardData": pa.array([r.get("cardData") for r in rows], pa.string()),
        "downloads": pa.array([r.get("downloads") for r in rows], pa.int64()),
        "likes": pa.array([0 for _ in rows], pa.int64()),
        "tags": pa.array([r.get("tags", []) for r in rows], pa.list_(pa.string())),
    }).select(cols)


def known_rows() -> list[dict]:
    rows = []
    i = 0
    for month, items in DATA.items():
        y, m = map(int, month.split("-"))
        for lic, dl in items:
            i += 1
            card: dict = {}
            tags = []
            if lic == "other:llama":
                card = {"license": "other", "license_name": "Llama 2 Community License Agreement"}
                tags = ["license:other"]
            elif lic == "other:custom":
                card = {"license": "other", "license_name": "My own terms"}
                tags = ["license:other"]
            elif lic:
                card = {"license": lic}
                tags = [f"license:{lic}"]
            rows.append({"id": f"org/m{i}", "createdAt": dt.datetime(y, m, 3 + i % 20, tzinfo=dt.timezone.utc),
                         "cardData": json.dumps(card) if card else None, "downloads": dl, "tags": tags})
    return rows


@pytest.fixture
def known(tmp_path):
    path = tmp_path / "models.parquet"
    pq.write_table(hub_stats_table(known_rows()), path)
    con = connect(tmp_path / "r.duckdb")
    import_paths(con, [path], snapshot_date="2024-01-01")
    yield con
    con.close()


def test_adoption_numbers(known):
    a = adoption(known)
    assert a["total_models"] == 12
    assert a["behavioral_use"] == 5  # llama2, openrail x2, other:llama, creativeml
    assert a["share"] == pytest.approx(5 / 12, abs=1e-6)
    assert a["downloads"] == 268 and a["behavioral_use_downloads"] == 247
    assert a["licenses"] == {"none": 3, "mit": 2, "openrail": 2, "other": 2, "apache-2.0": 1,
                             "creativeml-openrail-m": 1, "llama2": 1}
    months = {m["month"]: m for m in a["by_month"]}
    assert list(months) == ["2023-01", "2023-02", "2023-04"]
    assert (months["2023-01"]["models"], months["2023-01"]["behavioral_use"]) == (4, 1)
    assert months["2023-01"]["downloads"] == 116 and months["2023-01"]["behavioral_use_downloads"] == 100
    assert months["2023-02"]["share"] == pytest.approx(2 / 3, abs=1e-6)
    assert months["2023-04"]["behavioral_use"] == 2 and months["2023-04"]["behavioral_use_downloads"] == 47
    assert months["2023-04"]["cumulative_models"] == 12 and months["2023-04"]["cumulative_behavioral_use"] == 5
    fam = a["families"]
    assert fam["rail"]["models"] == 3 and fam["rail"]["behavioral_use"] == 3
    assert fam["llama"]["models"] == 1 and fam["none"]["models"] == 3 and fam["other"]["models"] == 2
    assert "2022-03-02" in a["caveat"]
    # period filter, inclusive; YYYY-MM accepted
    b = adoption(known, since="2023-02", until="2023-02-28")
    assert b["total_models"] == 3 and b["behavioral_use"] == 2 and [m["month"] for m in b["by_month"]] == ["2023-02"]


def test_licenses_report_numbers(known):
    r = licenses_report(known, top=3)
    assert r["total_models"] == 12 and r["distinct_licenses"] == 7
    assert [t["license"] for t in r["top"]] == ["none", "mit", "openrail"]
    assert r["top"][2]["behavioral_use"] is True and r["top"][2]["downloads"] == 100
    feb = {m["month"]: m for m in r["by_month"]}["2023-02"]
    assert feb["licenses"] == {"openrail": 2, "mit": 1}
    apr = {m["month"]: m for m in r["by_month"]}["2023-04"]
    assert apr["licenses"]["(all other licenses)"] == 3 and apr["licenses"]["none"] == 2


def test_clauses_report_numbers(known):
    gen = [("rt-000000000001", ["a.x", "b.y"], "2023-01-05"), ("rt-000000000002", ["a.x", "b.y"], "2023-01-06"),
           ("rt-000000000003", ["a.x", "b.y"], "2023-02-01"), ("rt-000000000004", ["a.x"], "2023-03-01")]
    for lid, clauses, day in gen:
        known.execute(
            """INSERT INTO generated_licenses (license_id, title, name, licensor, flavor, artifacts, restrictions,
                   custom_count, domains, catalog_version, template_version, manifest, created_at)
               VALUES (?, 't', 'n', 'l', 'rail', ['model'], ?, 1, ?, '1', '1', '{}', ?)""",
            [lid, clauses, [c.split(".")[0] for c in clauses], day])
    r = clauses_report(known)
    g = r["generated"]
    assert g["count"] == 4 and g["distinct_configurations"] == 2 and g["custom_clauses"] == 4
    assert g["top_configuration_share"] == 0.75
    assert g["mean_jaccard"] == pytest.approx(0.75)  # 3 identical pairs (1.0) + 3 pairs at 0.5, over 6
    assert g["clauses"] == {"a.x": 4, "b.y": 3} and g["domains"] == {"a": 4, "b": 3}
    months = {m["month"]: m for m in g["by_month"]}
    assert months["2023-01"]["mean_jaccard"] == 1.0 and months["2023-03"]["cumulative_mean_jaccard"] == pytest.approx(0.75)
    h = r["hub"]
    # llama2, `other` named "Llama 2 Community License Agreement", creativeml; the two generic
    # openrail models have no clause mapping in the catalogue
    assert h["count"] == 3 and h["unmapped_models"] == 2
    assert h["licenses"] == {"llama2": 2, "creativeml-openrail-m": 1}
    assert "general" in h["domains"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.frozensets(st.sampled_from("abcde"), max_size=4), min_size=2, max_size=12))
def test_mean_jaccard_matches_brute_force(configs):
    brute = [jaccard(a, b) for a, b in combinations(configs, 2)]
    assert mean_pairwise_jaccard(Counter(configs)) == pytest.approx(sum(brute) / len(brute), abs=1e-6)


def test_empty_store_raises_hint():
    con = connect(":memory:")
    with pytest.raises(NoDataError, match="railtrack hub import"):
        adoption(con)


def test_charts_deterministic(known):
    a = adoption(known)
    svg1, svg2 = chart("adoption", a, "svg"), chart("adoption", a, "svg")
    assert svg1 == svg2 and b"<svg" in svg1
    assert chart("licenses", licenses_report(known), "png").startswith(b"\x89PNG")
    assert b"<svg" in chart("clauses", clauses_report(known), "svg")


def test_html_escapes_user_text(known):
    known.execute("""INSERT INTO models (model_id, created_at, licenses, downloads, behavioral_use)
                     VALUES ('evil/x', '2023-05-01', ['<script>alert(1)</script>'], 1, false)""")
    page = html_report(known)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "http://" not in page.split("<svg", 1)[0] and "2022-03-02" in page
    csv_text = to_csv("licenses", licenses_report(known))
    assert csv_text.splitlines()[0].startswith("license,name,family")


def test_report_cli_forms(cli, tmp_path, known):
    db = str(tmp_path / "r.duckdb")
    known.close()
    r = cli("report", "adoption", "--json", "--db", db)
    assert r.code == 0
    data = json.loads(r.out)
    assert data["total_models"] == 12 and data["licenses"]["none"] == 3
    assert {"month", "models", "behavioral_use", "share", "downloads", "behavioral_use_downloads"} <= set(data["by_month"][0])
    r = cli("report", "adoption", "--csv", "--db", db)
    assert r.code == 0 and r.out.splitlines()[1].startswith("2023-01,4,1,")
    svg, html = tmp_path / "a.svg", tmp_path / "a.html"
    r = cli("report", "licenses", "--plot", svg, "--html", html, "--db", db)
    assert r.code == 0 and svg.read_bytes().lstrip().startswith(b"<?xml") and "<svg" in html.read_text()
    r = cli("report", "clauses", "--json", "--db", db)
    assert r.code == 0 and json.loads(r.out)["hub"]["count"] == 3
    r = cli("report", "adoption", "--plot", tmp_path / "x.gif", "--db", db)
    assert r.code == 2 and r.err.startswith("railtrack: error:") and not (tmp_path / "x.gif").exists()
    r = cli("report", "adoption", "--since", "2023-99", "--db", db)
    assert r.code == 2 and "invalid --since" in r.err


def test_report_cli_empty_store_hint(cli, tmp_path):
    r = cli("report", "adoption", "--db", tmp_path / "none.duckdb")
    assert r.code == 2
    assert r.err.count("\n") == 1 and "railtrack hub import" in r.err
    connect(tmp_path / "empty.duckdb").close()
    r = cli("report", "licenses", "--db", tmp_path / "empty.duckdb")
    assert r.code == 2 and "railtrack hub import" in r.err
