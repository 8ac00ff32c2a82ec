"""Family-tree import (real reference data and the bundled sample), card parsing, hostile YAML."""

from __future__ import annotations

import csv
import json

import pytest

from railtrack.errors import InputError
from railtrack.hub import import_paths, parse_card
from railtrack.hub.sample import sample_paths
from railtrack.store import connect

TREE_FIELDS = ["model_id", "card", "metadata", "depth", "children", "children_count", "adapters", "adapters_count",
               "quantized", "quantized_count", "merges", "merges_count", "spaces", "spaces_count"]

BOMB = """---
license: mit
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
---
# bomb
"""


def write_tree(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=TREE_FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in TREE_FIELDS})
    return path


def meta(mid, tags, **extra):
    d = {"id": mid, "author": mid.split("/")[0], "created_at": "2024-01-05 10:00:00+00:00",
         "last_modified": "2024-02-01T00:00:00.000Z", "downloads": 10, "likes": 1, "tags": tags}
    d.update(extra)
    return json.dumps(d)


def test_reference_llama_tree_counts(reference_dir):
    con = connect(":memory:")
    path = reference_dir / "hub-trees" / "Llama-2-7b-chat-hf_finetunes_20250422_180448.csv"
    res = import_paths(con, [path])
    assert res.rows_read == 465 and res.rows_imported == 465 and res.rows_rejected == 0
    # The counts documented for this tree in shared/README.md.
    rows = {tuple(k): v for k, v in con.execute("SELECT licenses, count(*) FROM models GROUP BY 1").fetchall()}
    assert rows[("llama2",)] == 146
    assert rows[("apache-2.0",)] == 15
    assert rows[("mit",)] == 12
    assert rows[()] == 274
    # Lineage from the tree's columns: adapters/quantized/merges of the root, children as rows.
    rel = dict(con.execute(
        "SELECT relation, count(*) FROM base_models WHERE base_id = 'meta-llama/Llama-2-7b-chat-hf' GROUP BY 1"
    ).fetchall())
    assert rel == {"finetune": 437, "adapter": 1129, "quantized": 66, "merge": 4}
    # Ids given as URLs are normalised.
    assert con.execute("SELECT count(*) FROM models WHERE model_id LIKE 'http%'").fetchone()[0] == 0
    # Behavioral use from the registry: every llama2 model.
    assert con.execute("SELECT count(*) FROM models WHERE list_contains(licenses, 'llama2') AND NOT behavioral_use").fetchone()[0] == 0
    assert con.execute("SELECT behavioral_use FROM models WHERE licenses = ['mit'] LIMIT 1").fetchone()[0] is False
    # Snapshot date from the file name; root row metadata.
    root = con.execute("SELECT author, gated, created_at, downloads, card_hash IS NOT NULL, list_contains(files, 'LICENSE.txt') "
                       "FROM models WHERE model_id = 'meta-llama/Llama-2-7b-chat-hf'").fetchone()
    assert root[0] == "meta-llama" and root[1] == "manual" and root[2].year == 2023 and root[3] > 1_000_000
    assert root[4] and root[5]
    assert str(con.execute("SELECT snapshot_date FROM snapshots").fetchone()[0]) == "2025-04-22"
    assert con.execute("SELECT count(*) FROM model_cards").fetchone()[0] == 465 - 16  # 16 rows have card "N/A"


def test_reference_sd_tree_multi_parent_conflict(reference_dir):
    con = connect(":memory:")
    import_paths(con, [reference_dir / "hub-trees" / "stable-diffusion-2-1_finetunes_20250422_220003.csv"])
    row = con.execute("SELECT tags, card, resolved FROM metadata_conflicts WHERE model_id = "
                      "'jwengr/stable-diffusion-2-gray-inpaint-to-rgb' AND field = 'base_model'").fetchone()
    assert json.loads(row[0]) == ["stabilityai/stable-diffusion-2-1"]
    assert sorted(json.loads(row[1])) == ["stabilityai/stable-diffusion-2-1", "stabilityai/stable-diffusion-2-inpainting"]
    parents = con.execute("SELECT base_id, source FROM base_models WHERE model_id = "
                          "'jwengr/stable-diffusion-2-gray-inpaint-to-rgb' ORDER BY 1").fetchall()
    assert parents == [("stabilityai/stable-diffusion-2-1", "both"), ("stabilityai/stable-diffusion-2-inpainting", "card")]
    rows = {tuple(k): v for k, v in con.execute("SELECT licenses, count(*) FROM models GROUP BY 1").fetchall()}
    assert rows[("creativeml-openrail-m",)] >= 146 and rows[("mit",)] == 8


def test_bundled_sample_imports_and_is_small():
    paths = sample_paths()
    assert len(paths) == 4
    assert sum(p.stat().st_size for p in paths) < 4_000_000
    con = connect(":memory:")
    res = import_paths(con, paths, fmt="trees")
    assert res.rows_imported == 133
    fam = dict(con.execute(
        "SELECT b.base_id, count(*) FROM base_models b JOIN models m USING (model_id) "
        "WHERE b.source <> 'tree' GROUP BY 1").fetchall())
    assert fam["meta-llama/Llama-2-7b-chat-hf"] >= 55 and fam["stabilityai/stable-diffusion-2-1"] >= 35
    lic = {tuple(k): v for k, v in con.execute(
        "SELECT m.licenses, count(*) FROM models m JOIN base_models b USING (model_id) "
        "WHERE b.base_id = 'meta-llama/Llama-2-7b-chat-hf' AND b.source <> 'tree' GROUP BY 1").fetchall()}
    assert lic[("apache-2.0",)] == 15 and lic[("mit",)] >= 10 and lic[("llama2",)] >= 5
    assert con.execute("SELECT behavioral_use FROM models WHERE model_id = 'bigscience/bloom'").fetchone()[0] is True


def test_hostile_and_messy_rows(tmp_path):
    huge = "---\nlicense: mit\nx: '" + "y" * 300_000 + "'\n---\nbody"
    rows = [
        {"model_id": "org/root", "card": "---\nlicense: openrail\n---\n# Root", "metadata": meta("org/root", ["license:openrail"]),
         "depth": "0", "children": "https://huggingface.co/org/bomb, https://huggingface.co/org/literal",
         "adapters": "https://huggingface.co/org/lora-only", "merges": "nan"},
        {"model_id": "https://huggingface.co/org/bomb", "card": BOMB, "metadata": "N/A", "depth": "1"},
        {"model_id": "org/literal", "card": "", "depth": "1",
         "metadata": str({"id": "org/literal", "tags": ["license:apache-2.0", "base_model:finetune:org/root"],
                          "downloads": 5, "gated": False, "card_data": "license: apache-2.0\nbase_model: org/root"})},
        {"model_id": "org/invalid", "card": "---\nlicense: [mit\n---\n", "metadata": "{not json", "depth": "1"},
        {"model_id": "org/huge", "card": huge, "metadata": meta("org/huge", []), "depth": "1"},
        {"model_id": "org/dup", "card": "---\nlicense: mit\n---\n", "metadata": meta("org/dup", ["license:mit"], last_modified="2024-01-01T00:00:00Z"), "depth": "1"},
        {"model_id": "org/dup", "card": "---\nlicense: gpl-3.0\n---\n", "metadata": meta("org/dup", ["license:gpl-3.0"], last_modified="2024-03-01T00:00:00Z"), "depth": "1"},
        {"model_id": "", "card": "", "metadata": "N/A"},
        {"model_id": "org/pyobj", "card": "---\nlicense: !!python/object/apply:os.system ['echo pwned']\n---\n",
         "metadata": meta("org/pyobj", []), "depth": "1"},
    ]
    path = write_tree(tmp_path / "org-root_finetunes_20240401_000000.csv", rows)
    con = connect(":memory:")
    res = import_paths(con, [path])
    assert res.rows_read == 9
    assert res.rows_rejected == 2  # the row with no id, the older duplicate
    assert res.rows_imported == 7
    rej = res.rejections
    assert rej["missing model id"] == 1
    assert rej["duplicate model id in snapshot (kept the latest lastModified)"] == 1
    assert any("alias bomb" in k for k in rej)
    assert any("larger than" in k for k in rej)
    assert any("invalid" in k for k in rej)
    assert any("constructor" in k for k in rej)  # !!python tags are refused by the safe loader
    stored = json.loads(con.execute("SELECT rejections FROM import_runs").fetchone()[0])
    assert stored == rej
    lic = dict(con.execute("SELECT model_id, licenses FROM models").fetchall())
    assert lic["org/bomb"] == []  # metadata refused, nothing declared, still imported
    assert lic["org/literal"] == ["apache-2.0"]  # Python-literal metadata + its cardData
    assert lic["org/dup"] == ["gpl-3.0"]  # latest lastModified wins
    assert lic["org/invalid"] == []
    assert lic["org/pyobj"] == []
    edges = set(con.execute("SELECT model_id, base_id, relation FROM base_models").fetchall())
    assert ("org/bomb", "org/root", "finetune") in edges
    assert ("org/lora-only", "org/root", "adapter") in edges
    assert con.execute("SELECT source FROM base_models WHERE model_id = 'org/literal'").fetchone()[0] == "both"
    assert str(con.execute("SELECT snapshot_date FROM snapshots").fetchone()[0]) == "2024-04-01"


def test_parse_card_guards():
    assert "alias bomb" in parse_card(BOMB).error
    assert parse_card("---\n" + "[" * 500 + "]" * 500 + "\n---\n").error
    rec = parse_card("---\na: &a [*a]\n---\n")
    assert rec.error is not None
    ok = parse_card("---\nlicense: [Apache-2.0, MIT]\nbase_model:\n- a/b\n- https://huggingface.co/c/d\n"
                    "base_model_relation: merge\nlicense_name: My License\n---\n# Title\ntext")
    assert ok.error is None and ok.licenses == ["apache-2.0", "mit"]
    assert ok.base_models == ["a/b", "c/d"] and ok.base_model_relation == "merge"
    assert ok.license_name == "My License" and ok.body.strip().startswith("# Title")
    assert parse_card("no front matter").metadata == {}
    assert parse_card(None).card_hash is None


def test_missing_columns_and_bad_json(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n")
    con = connect(":memory:")
    with pytest.raises(InputError, match="missing columns"):
        import_paths(con, [bad])
    js = tmp_path / "t.json"
    js.write_text("{oops")
    with pytest.raises(InputError, match="invalid JSON"):
        import_paths(con, [js])
    assert con.execute("SELECT count(*) FROM models").fetchone()[0] == 0
    assert con.execute("SELECT status FROM import_runs").fetchall() == [("failed",), ("failed",)]


def test_json_tree_format_and_reimport_is_idempotent(tmp_path):
    recs = [{"model_id": "a/base", "card": "---\nlicense: llama2\n---\n", "metadata": meta("a/base", ["license:llama2"]),
             "children": "a/kid"},
            {"model_id": "a/kid", "card": "---\nlicense: mit\nbase_model: a/base\n---\n",
             "metadata": meta("a/kid", ["license:mit", "base_model:finetune:a/base"])}]
    path = tmp_path / "tree.json"
    path.write_text(json.dumps(recs))
    con = connect(":memory:")
    import_paths(con, [path], snapshot_date="2025-01-01")
    import_paths(con, [path], snapshot_date="2025-01-01")
    assert con.execute("SELECT count(*) FROM models").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM model_observations").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 1
    assert con.execute("SELECT relation, source FROM base_models").fetchall() == [("finetune", "both")]


def test_cli_sample_import_reclassify_and_conflicts(cli, tmp_path):
    db = tmp_path / "s.duckdb"
    r = cli("hub", "import", "--sample", "--db", db)
    assert r.code == 0 and "133 models imported" in r.out
    con = connect(db)
    con.execute("UPDATE models SET behavioral_use = NULL")
    con.close()
    r = cli("hub", "reclassify", "--db", db)
    assert r.code == 0 and r.out.split()[0] == "30"  # 30 sample models under behavioral-use licenses
    r = cli("hub", "conflicts", "--field", "base_model", "--json", "--db", db)
    assert r.code == 0
    r = cli("hub", "conflicts", "--field", "nope", "--db", db)
    assert r.code == 2 and "--field" in r.err
    r = cli("hub", "import", "--db", db)
    assert r.code == 2 and "PATH" in r.err
