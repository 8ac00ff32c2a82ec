"""hub-stats, model-cards and local imports; the reconciliation rule; bad input; a killed import."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from railtrack.errors import InputError
from railtrack.hub import import_paths
from railtrack.store import connect

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
import gen_hub_stats  # noqa: E402


def stats(rows: list[dict]) -> pa.Table:
    base_t = pa.struct([("relation", pa.string()), ("models", pa.list_(pa.struct([("id", pa.string())])))])
    return pa.table({
        "id": pa.array([r["id"] for r in rows], pa.string()),
        "author": pa.array([r["id"].split("/")[0] for r in rows], pa.string()),
        "createdAt": pa.array([r.get("created", dt.datetime(2024, 1, 1)) for r in rows], pa.timestamp("ms", tz="UTC")),
        "lastModified": pa.array([r.get("modified", dt.datetime(2024, 2, 1)) for r in rows], pa.timestamp("ms", tz="UTC")),
        "cardData": pa.array([r.get("cardData") if isinstance(r.get("cardData"), (str, type(None)))
                              else json.dumps(r["cardData"]) for r in rows], pa.string()),
        "downloads": pa.array([r.get("downloads", 1) for r in rows], pa.int64()),
        "likes": pa.array([0 for _ in rows], pa.int64()),
        "tags": pa.array([r.get("tags", []) for r in rows], pa.list_(pa.string())),
        "baseModels": pa.array([r.get("baseModels") for r in rows], base_t),
        "extra_ignored": pa.array([1.5 for _ in rows], pa.float64()),
    })


def write(tmp_path, name, rows):
    path = tmp_path / name
    pq.write_table(stats(rows), path)
    return path


# ---------------------------------------------------------------- the reconciliation rule

def test_reconciliation_rule(tmp_path):
    rows = [
        # license in tags but not in the card: tags fill in, conflict kept
        {"id": "a/tags-only", "cardData": {"language": "en"}, "tags": ["license:mit"]},
        # card and tags disagree: the card wins
        {"id": "a/disagree", "cardData": {"license": "Apache-2.0"}, "tags": ["license:mit"]},
        # agreement: no conflict
        {"id": "a/agree", "cardData": {"license": ["llama2", "mit"]}, "tags": ["license:llama2", "license:mit"]},
        # card lists two base models, tags one: union, conflict
        {"id": "a/two-bases", "cardData": {"base_model": ["b/one", "b/two"]},
         "tags": ["base_model:b/one", "base_model:finetune:b/one"]},
        # relation: card says adapter, tag says finetune -> card wins, conflict
        {"id": "a/relation", "cardData": {"base_model": "b/one", "base_model_relation": "adapter"},
         "tags": ["base_model:finetune:b/one"]},
        # API baseModels only, no card metadata: no conflicts possible
        {"id": "a/api", "baseModels": {"relation": "quantized", "models": [{"id": "b/three"}]}},
        # no card metadata at all and a license tag: no conflict (card unknown)
        {"id": "a/nocard", "tags": ["license:gemma"]},
        # several parents, no relation anywhere -> merge
        {"id": "a/merge", "cardData": {"base_model": ["b/one", "b/two"]}, "tags": ["base_model:b/one", "base_model:b/two"]},
    ]
    con = connect(":memory:")
    import_paths(con, [write(tmp_path, "s.parquet", rows)], snapshot_date="2024-03-01")
    lic = dict(con.execute("SELECT model_id, licenses FROM models").fetchall())
    assert lic["a/tags-only"] == ["mit"] and lic["a/disagree"] == ["apache-2.0"] and lic["a/agree"] == ["llama2", "mit"]
    assert lic["a/nocard"] == ["gemma"]
    conflicts = {(m, f): (json.loads(t), json.loads(c), json.loads(r))
                 for m, f, t, c, r in con.execute("SELECT * FROM metadata_conflicts").fetchall()}
    assert conflicts[("a/tags-only", "license")] == (["mit"], [], ["mit"])
    assert conflicts[("a/disagree", "license")] == (["mit"], ["apache-2.0"], ["apache-2.0"])
    assert conflicts[("a/two-bases", "base_model")] == (["b/one"], ["b/one", "b/two"], ["b/one", "b/two"])
    assert conflicts[("a/relation", "relation")] == (["finetune"], "adapter", "adapter")
    assert set(conflicts) == {("a/tags-only", "license"), ("a/disagree", "license"), ("a/two-bases", "base_model"),
                              ("a/relation", "relation")}
    edges = {(m, b): (rel, src) for m, b, rel, src in con.execute("SELECT * FROM base_models").fetchall()}
    assert edges[("a/two-bases", "b/one")] == ("finetune", "both")
    assert edges[("a/two-bases", "b/two")][1] == "card"
    assert edges[("a/relation", "b/one")] == ("adapter", "both")
    assert edges[("a/api", "b/three")] == ("quantized", "api")
    assert edges[("a/merge", "b/one")] == ("merge", "both") and edges[("a/merge", "b/two")] == ("merge", "both")


# ---------------------------------------------------------------- hub-stats

def test_hub_stats_true_counts(tmp_path):
    table = gen_hub_stats.generate(3000, seed=7)
    path = tmp_path / "models.parquet"
    pq.write_table(table, path)
    # true counts straight from the generated data
    ids = table.column("id").to_pylist()
    dup = len(ids) - len(set(ids))
    cards = table.column("cardData").to_pylist()
    malformed = 0
    lic_true: Counter = Counter()
    seen = {}
    for mid, card, tags, mod in zip(ids, cards, table.column("tags").to_pylist(), table.column("lastModified").to_pylist()):
        try:
            c = json.loads(card) if card else {}
        except ValueError:
            malformed += 1
            c = {}
        declared = c.get("license") or next((t[8:] for t in tags if t.startswith("license:")), None)
        if mid not in seen or mod >= seen[mid][0]:
            seen[mid] = (mod, declared)
    for _, declared in seen.values():
        lic_true[declared or "none"] += 1
    con = connect(":memory:")
    res = import_paths(con, [path], snapshot_date="2025-06-30")
    assert res.source == "hub-stats"
    assert res.rows_read == 3000 and res.rows_imported == 3000 - dup and res.rows_rejected == dup
    assert res.rejections.get("hub-stats: malformed cardData JSON (card metadata ignored)", 0) == malformed
    got = Counter()
    for lic, n in con.execute("SELECT licenses, count(*) FROM models GROUP BY 1").fetchall():
        got[lic[0] if lic else "none"] += n
    assert got == lic_true
    assert con.execute("SELECT min(created_at) >= '2022-03-02' FROM models").fetchone()[0]
    assert json.loads(con.execute("SELECT rejections FROM import_runs").fetchone()[0]) == res.rejections


def test_weekly_snapshots_build_history(tmp_path):
    paths = gen_hub_stats.write_snapshots(tmp_path / "w.parquet", 2000, 3, snapshots=3)
    con = connect(":memory:")
    # import out of order: the newest first, then the folder of all archives
    import_paths(con, [paths[2]])
    latest = dict(con.execute("SELECT model_id, downloads FROM models").fetchall())
    res = import_paths(con, [tmp_path])
    assert len(res.paths) == 3
    assert dict(con.execute("SELECT model_id, downloads FROM models").fetchall()) == latest  # older never override
    assert con.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 3
    n_obs = sum(len(set(pq.read_table(p, columns=["id"]).column("id").to_pylist())) for p in paths)
    assert con.execute("SELECT count(*) FROM model_observations").fetchone()[0] == n_obs
    first = con.execute("SELECT min(first_seen), max(last_seen) FROM models").fetchone()
    dates = sorted(dt.date.fromisoformat(p.stem[-10:]) for p in paths)
    assert first == (dates[0], dates[2])
    # re-importing the same snapshot replaces it instead of duplicating it
    import_paths(con, [paths[1]])
    assert con.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 3
    assert con.execute("SELECT count(*) FROM model_observations").fetchone()[0] == n_obs


def test_corrupt_and_incomplete_parquet(tmp_path):
    con = connect(":memory:")
    good = write(tmp_path, "good.parquet", [{"id": "x/y", "cardData": {"license": "mit"}}])
    import_paths(con, [good])
    before = con.execute("SELECT count(*) FROM models").fetchone()[0]
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(good.read_bytes()[:200] + b"\x00" * 64)
    with pytest.raises(InputError, match="not a readable parquet"):
        import_paths(con, [corrupt], fmt="hub-stats")
    nocols = tmp_path / "nocols.parquet"
    pq.write_table(pa.table({"foo": [1, 2]}), nocols)
    with pytest.raises(InputError, match="missing columns: id"):
        import_paths(con, [nocols], fmt="hub-stats")
    with pytest.raises(InputError, match="neither hub-stats"):
        import_paths(con, [nocols])
    assert con.execute("SELECT count(*) FROM models").fetchone()[0] == before
    garbage = tmp_path / "models.json"
    garbage.write_text("[1, 2")
    with pytest.raises(InputError):
        import_paths(con, [garbage])


def test_cli_import_and_json(cli, tmp_path):
    path = write(tmp_path, "s.parquet", [{"id": "a/b", "cardData": "{bad json", "tags": ["license:mit"]},
                                         {"id": "a/b", "cardData": {"license": "mit"}, "modified": dt.datetime(2024, 5, 1)},
                                         {"id": "", "cardData": None}])
    db = tmp_path / "c.duckdb"
    r = cli("hub", "import", path, "--json", "--snapshot-date", "2024-06-01", "--db", db)
    assert r.code == 0, r
    data = json.loads(r.out)
    assert data["rows_read"] == 3 and data["rows_imported"] == 1 and data["rows_rejected"] == 2
    assert data["rejections"] == {"duplicate model id in snapshot (kept the latest lastModified)": 1,
                                  "hub-stats: malformed cardData JSON (card metadata ignored)": 1,
                                  "missing model id": 1}
    r = cli("hub", "import", tmp_path / "missing.parquet", "--db", db)
    assert r.code == 2 and r.err.startswith("railtrack: error:") and r.err.count("\n") == 1
    r = cli("hub", "import", path, "--snapshot-date", "June", "--db", db)
    assert r.code == 2 and "YYYY-MM-DD" in r.err
    r = cli("hub", "runs", "--json", "--db", db)
    assert r.code == 0 and json.loads(r.out)[0]["rows_rejected"] == 2
    r = cli("hub", "conflicts", "--json", "--db", db)
    # the kept row declares mit in its card and has no license tag: a recorded disagreement
    assert r.code == 0 and json.loads(r.out) == [{"model_id": "a/b", "field": "license", "tags": [], "card": ["mit"],
                                                  "resolved": ["mit"]}]


# ---------------------------------------------------------------- model-cards and local repos

def test_model_cards_parquet(tmp_path):
    cards = [
        "---\nlicense: llama2\nbase_model: meta-llama/Llama-2-7b-hf\n---\n# A",
        "---\nlicense: other\nlicense_name: gemma-terms\n---\n# B",
        "no front matter at all",
        "---\na: &a [*a]\n---\n",
    ]
    table = pa.table({
        "modelId": ["m/a", "m/b", "m/c", "m/d"], "author": ["m"] * 4,
        "last_modified": pa.array([dt.datetime(2024, 1, 2)] * 4, pa.timestamp("us", tz="UTC")),
        "downloads": [1, 2, 3, 4], "likes": [0, 0, 0, 0], "library_name": ["transformers"] * 4,
        "tags": [["license:llama2"], ["license:other"], [], []], "pipeline_tag": ["text-generation"] * 4,
        "createdAt": pa.array([dt.datetime(2023, 7, 1)] * 4, pa.timestamp("us", tz="UTC")), "card": cards,
    })
    path = tmp_path / "cards.parquet"
    pq.write_table(table, path)
    con = connect(":memory:")
    res = import_paths(con, [path])
    assert res.source == "model-cards" and res.rows_imported == 4
    assert any("recursive alias" in k for k in res.rejections)
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT model_id, licenses, license_name, behavioral_use FROM models").fetchall()}
    assert rows["m/a"] == (["llama2"], None, True)
    assert rows["m/b"][0] == ["other"] and rows["m/b"][1] == "gemma-terms"
    assert con.execute("SELECT base_id, source FROM base_models WHERE model_id = 'm/a'").fetchone() == (
        "meta-llama/Llama-2-7b-hf", "card")
    assert con.execute("SELECT count(*) FROM model_cards").fetchone()[0] == 4


def test_local_repos_with_license_file_identification(tmp_path, reference_dir):
    text = (reference_dir / "licenses" / "scancode" / "llama-2-license-2023.LICENSE").read_text()
    if text.startswith("---"):
        text = text.split("---", 2)[2]
    repo = tmp_path / "repos" / "acme" / "chat-7b"
    repo.mkdir(parents=True)
    (repo / "README.md").write_text("---\nlicense: other\nbase_model: meta-llama/Llama-2-7b-chat-hf\n---\n# Chat\n")
    (repo / "LICENSE").write_text(text)
    plain = tmp_path / "repos" / "acme" / "plain"
    plain.mkdir()
    (plain / "README.md").write_text("---\nlicense: mit\n---\n# Plain\n")
    con = connect(":memory:")
    res = import_paths(con, [tmp_path / "repos"])
    assert res.source == "local" and res.rows_imported == 2
    row = con.execute("SELECT licenses, identified_license, identified_source, behavioral_use, files FROM models "
                      "WHERE model_id = 'acme/chat-7b'").fetchone()
    assert row[0] == ["other"]  # declared stays as declared
    assert row[1] == "llama2" and row[2] == "LICENSE" and row[3] is True and "LICENSE" in row[4]
    assert con.execute("SELECT identified FROM license_files WHERE model_id = 'acme/chat-7b'").fetchone()[0] == "llama2"
    assert con.execute("SELECT identified_license, behavioral_use FROM models WHERE model_id = 'acme/plain'").fetchone() == (
        None, False)
    assert res.identified == 1


# ---------------------------------------------------------------- a killed import leaves the previous state

@pytest.mark.slow
def test_killed_import_leaves_previous_state(tmp_path):
    big = tmp_path / "big.parquet"
    pq.write_table(gen_hub_stats.generate(400_000, seed=1), big)
    # how long the import takes here, and how long the CLI takes to start, so that the kill
    # lands in the middle of the import's transaction on any machine
    scratch = connect(tmp_path / "scratch.duckdb")
    t = time.perf_counter()
    import_paths(scratch, [big])
    import_seconds = time.perf_counter() - t
    scratch.close()
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "railtrack", "version"], capture_output=True, check=True)
    startup = time.perf_counter() - t
    db = tmp_path / "k.duckdb"
    con = connect(db)
    import_paths(con, [write(tmp_path, "small.parquet", [{"id": "keep/me", "cardData": {"license": "mit"}}])])
    con.close()
    env = dict(os.environ, RAILTRACK_DB=str(db))
    proc = subprocess.Popen([sys.executable, "-m", "railtrack", "hub", "import", str(big)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(startup + import_seconds * 0.5)
    assert proc.poll() is None, "the import finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    con = connect(db)
    assert con.execute("SELECT model_id, licenses FROM models").fetchall() == [("keep/me", ["mit"])]
    assert con.execute("SELECT count(*) FROM model_observations").fetchone()[0] == 1
    assert con.execute("SELECT count(*), min(status) FROM import_runs").fetchone() == (1, "done")
    assert con.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 1
    # and the store still takes the import afterwards
    res = import_paths(con, [big])
    assert res.rows_imported > 390_000


def test_hub_stats_column_variants(tmp_path):
    """JSON-string baseModels/tags, ISO-string dates and a cardData struct are all read."""
    t = pa.table({
        "id": ["v/a", "v/b"],
        "createdAt": ["2023-05-01T10:00:00.000Z", "not a date"],
        "baseModels": [json.dumps({"relation": "adapter", "models": [{"id": "b/1"}]}), "{broken"],
        "tags": [json.dumps(["license:mit", "base_model:adapter:b/1"]), None],
        "cardData": pa.array([{"license": "mit", "base_model": "b/1"}, None],
                             pa.struct([("license", pa.string()), ("base_model", pa.string())])),
    })
    path = tmp_path / "variants.parquet"
    pq.write_table(t, path)
    con = connect(":memory:")
    res = import_paths(con, [path], fmt="hub-stats")
    assert res.rows_imported == 2
    rows = {r[0]: r[1:] for r in con.execute("SELECT model_id, licenses, created_at, tags FROM models").fetchall()}
    assert rows["v/a"][0] == ["mit"] and rows["v/a"][1] == dt.datetime(2023, 5, 1, 10, 0)
    assert rows["v/b"][1] is None and rows["v/b"][2] is None  # tags unknown
    assert con.execute("SELECT relation, source FROM base_models").fetchall() == [("adapter", "both")]


def test_card_text_identification_only_where_nothing_declared(tmp_path, reference_dir):
    aup = (reference_dir / "licenses" / "llama-models" / "llama2-USE_POLICY.md").read_text()
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "undeclared.md").write_text("---\nlanguage: en\n---\n# Chat model\n\n## License\n\n" + aup)
    (cards / "declared.md").write_text("---\nlicense: mit\n---\n# Chat model\n\n## License\n\n" + aup)
    (cards / "silent.md").write_text("---\nlanguage: en\n---\n# A model\n\nTrained on things.\n")
    con = connect(":memory:")
    res = import_paths(con, [cards])
    assert res.identified == 1
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT model_id, licenses, identified_license, identified_source, behavioral_use FROM models").fetchall()}
    assert rows["undeclared"] == ([], "llama2-aup", "card", True)  # found, kept apart from the declared (none)
    assert rows["declared"] == (["mit"], None, None, False)  # a declared license is not second-guessed
    assert rows["silent"] == ([], None, None, False)
