"""Obligation rules and audits on hand-made stores: every rule family, merges, missing parents,
cycles, cards without metadata, and the audit command's outputs and exit codes."""

from __future__ import annotations

import csv
import io
import json

import pytest
from adherence_store import card, make_store

from railtrack.adherence.audit import audit, mutation
from railtrack.adherence.rules import describe_rules, load_rules
from railtrack.errors import NotFoundError

LLAMA2_NOTICE = "Llama 2 is licensed under the LLAMA 2 Community License, Copyright (c) Meta Platforms, Inc. All Rights Reserved."


def _rules(entry):
    return {r["rule"]: r for r in entry["rules"]}


def _one(con, model):
    (entry,) = audit(con, model)["derivatives"]
    return entry


@pytest.fixture
def llama2_family():
    base = {"id": "meta-llama/Llama-2-7b-chat-hf", "licenses": ["llama2"],
            "files": ["LICENSE.txt", "USE_POLICY.md", "config.json"]}
    return make_store([
        base,
        # relicensed under apache-2.0, nothing else: a pass-through violation
        {"id": "a/apache", "licenses": ["apache-2.0"], "files": ["README.md", "model.safetensors"],
         "card": card("license: apache-2.0", "# My chat model\nFine-tuned on my data.")},
        # the model done right: same license, agreement, policy and notice files
        {"id": "a/good", "licenses": ["llama2"], "files": ["LICENSE.txt", "USE_POLICY.md", "NOTICE", "model.safetensors"],
         "card": card("license: llama2", "Fine-tuned from Llama 2.")},
        # no file listing at all: never a violation, only cannot-tell
        {"id": "a/unlisted", "licenses": [], "files": None, "card": None},
        # no metadata block; the card pastes the agreement and the notice
        {"id": "a/pasted", "licenses": [], "files": ["README.md", "adapter_model.bin"],
         "card": "# Adapter\n\nLLAMA 2 COMMUNITY LICENSE AGREEMENT\n\"Llama Materials\" means, collectively, Meta's "
                 "proprietary Llama 2 and documentation ...\n\n" + LLAMA2_NOTICE + "\nSee the Acceptable Use Policy."},
        # declares apache-2.0 but ships the Llama 2 agreement: contradictory, cannot-tell
        {"id": "a/contradiction", "licenses": ["apache-2.0"], "files": ["LICENSE"],
         "license_files": [("LICENSE", "llama2")], "card": card("license: apache-2.0", "Llama model")},
        # a quantized copy of the apache child: still bound by Llama 2 through its grandparent
        {"id": "a/apache-GGUF", "licenses": ["apache-2.0"], "files": ["m.gguf"], "card": card("license: apache-2.0", "quants")},
        # `other` with a license_link to Meta's license and a LICENSE file
        {"id": "a/other-linked", "licenses": ["other"], "license_name": "llama2",
         "license_link": "https://ai.meta.com/llama/license/", "files": ["LICENSE", "Notice", "USE_POLICY.md"],
         "card": card("license: other\nlicense_name: llama2", "quantized")},
    ], [
        ("a/apache", base["id"], "finetune"), ("a/good", base["id"], "finetune"), ("a/unlisted", base["id"], "finetune"),
        ("a/pasted", base["id"], "adapter"), ("a/contradiction", base["id"], "finetune"),
        ("a/apache-GGUF", "a/apache", "quantized"), ("a/other-linked", base["id"], "quantized"),
    ])


def test_llama2_relicensed_apache_child_is_a_passthrough_violation(llama2_family):
    e = _one(llama2_family, "a/apache")
    r = _rules(e)
    assert e["verdict"] == "violation"
    assert r["llama2/passthrough"]["verdict"] == "violation"
    assert "declares apache-2.0" in r["llama2/passthrough"]["reason"]
    assert r["llama2/passthrough"]["evidence"] == [{"source": "declared_license", "value": "apache-2.0"}]
    assert r["llama2/copy-of-agreement"]["verdict"] == "violation"
    assert r["llama2/acceptable-use-policy"]["verdict"] == "violation"
    assert r["llama2/notice"]["verdict"] == "violation"
    assert r["llama2/passthrough"]["base"] == "meta-llama/Llama-2-7b-chat-hf"
    assert r["llama2/passthrough"]["license"] == "llama2"


def test_llama2_child_with_every_file_is_compliant(llama2_family):
    e = _one(llama2_family, "a/good")
    assert e["verdict"] == "compliant"
    r = _rules(e)
    assert set(r) == {"llama2/passthrough", "llama2/copy-of-agreement", "llama2/acceptable-use-policy", "llama2/notice"}
    assert "NOTICE is in the repository" in r["llama2/notice"]["reason"]
    assert "USE_POLICY.md" in r["llama2/acceptable-use-policy"]["reason"]


def test_missing_file_listing_is_cannot_tell_not_violation(llama2_family):
    e = _one(llama2_family, "a/unlisted")
    assert e["verdict"] == "cannot-tell"
    assert all(r["verdict"] == "cannot-tell" for r in e["rules"])
    assert "file listing is unknown" in _rules(e)["llama2/passthrough"]["reason"]


def test_card_without_metadata_that_pastes_the_agreement(llama2_family):
    e = _one(llama2_family, "a/pasted")
    r = _rules(e)
    assert e["relation"] == "adapter"
    assert r["llama2/passthrough"]["verdict"] == "compliant"
    assert r["llama2/copy-of-agreement"]["verdict"] == "compliant"
    assert r["llama2/copy-of-agreement"]["evidence"][0]["source"] == "card"
    assert "llama 2 community license agreement" in r["llama2/copy-of-agreement"]["evidence"][0]["quote"]
    assert r["llama2/acceptable-use-policy"]["verdict"] == "compliant"
    # the notice obligation covers copies of the Llama Materials, not adapters
    assert "llama2/notice" not in r


def test_declared_permissive_license_contradicting_the_license_file(llama2_family):
    r = _rules(_one(llama2_family, "a/contradiction"))
    assert r["llama2/passthrough"]["verdict"] == "cannot-tell"
    assert "contradicts" in r["llama2/passthrough"]["reason"]
    assert r["llama2/copy-of-agreement"]["verdict"] == "compliant"
    assert r["llama2/copy-of-agreement"]["evidence"] == [{"source": "license_file", "path": "LICENSE", "identified": "llama2"}]


def test_obligations_are_inherited_through_intermediate_models(llama2_family):
    e = _one(llama2_family, "a/apache-GGUF")
    r = _rules(e)
    assert e["relation"] == "quantized"
    assert r["llama2/passthrough"]["verdict"] == "violation"
    assert r["llama2/passthrough"]["base"] == "meta-llama/Llama-2-7b-chat-hf"


def test_other_license_with_link_and_files_is_compliant(llama2_family):
    e = _one(llama2_family, "a/other-linked")
    r = _rules(e)
    assert r["llama2/passthrough"]["verdict"] == "compliant"
    assert {"source": "license_link", "value": "https://ai.meta.com/llama/license/"} in r["llama2/passthrough"]["evidence"]
    assert r["llama2/notice"]["verdict"] == "compliant"
    assert e["verdict"] == "compliant"


def test_descendant_audit_summary_and_drift(llama2_family):
    rep = audit(llama2_family, "meta-llama/Llama-2-7b-chat-hf", descendants=True)
    ids = [d["id"] for d in rep["derivatives"]]
    assert len(ids) == 7 and "meta-llama/Llama-2-7b-chat-hf" not in ids
    s = rep["summary"]
    assert s["derivatives"] == 7
    assert sum(s["verdicts"].values()) == 7
    assert s["verdicts"]["violation"] == 2  # a/apache and its GGUF
    assert s["rules"]["llama2/passthrough"]["violation"] == 2
    # edges with both license sets known: apache(1.0), good(0.0), contradiction(1.0), GGUF(0.0 vs apache parent),
    # other-linked(1.0) -> finetune 3 edges mean 2/3, quantized 2 edges mean 0.5
    drift = s["drift"]
    assert drift["per_relation"]["finetune"]["edges"] == 3
    assert drift["per_relation"]["finetune"]["mutation_rate"] == pytest.approx(0.6667, abs=1e-4)
    assert drift["per_relation"]["finetune"]["direction"] == {"to-permissive": 2, "unchanged": 1}
    assert drift["per_relation"]["quantized"]["edges"] == 2
    assert drift["per_relation"]["quantized"]["direction"] == {"unchanged": 1, "unknown": 1}
    assert rep["base"]["obligations"] == ["llama2/acceptable-use-policy", "llama2/copy-of-agreement",
                                          "llama2/notice", "llama2/passthrough"]
    json.dumps(rep)  # JSON-serialisable for the web app


def test_mutation_rate_formula():
    assert mutation(["llama2"], ["llama2"]) == 0.0
    assert mutation(["llama2"], ["apache-2.0"]) == 1.0
    assert mutation(["llama2", "apache-2.0"], ["apache-2.0"]) == 0.5
    assert mutation([], []) == 0.0


def test_merge_must_satisfy_all_its_bases():
    con = make_store([
        {"id": "meta/llama", "licenses": ["llama2"]},
        {"id": "google/gemma", "licenses": ["gemma"]},
        {"id": "msft/phi", "licenses": ["mit"]},
        {"id": "m/merge", "licenses": ["llama2"], "files": ["LICENSE", "USE_POLICY.md", "NOTICE"],
         "card": card("license: llama2", "A SLERP merge of the two.")},
        {"id": "m/merge-mit", "licenses": ["llama2"], "files": ["LICENSE", "USE_POLICY.md", "NOTICE"],
         "card": card("license: llama2", "merge")},
    ], [("m/merge", "meta/llama", "merge"), ("m/merge", "google/gemma", "merge"),
        ("m/merge-mit", "meta/llama", "merge"), ("m/merge-mit", "msft/phi", "merge")])
    e = _one(con, "m/merge")
    r = _rules(e)
    assert r["llama2/passthrough"]["verdict"] == "compliant"
    # Gemma's terms are not carried by a llama2-licensed merge
    assert r["gemma/passthrough"]["verdict"] == "cannot-tell"  # llama2 is another behavioral-use license
    assert r["gemma/copy-of-terms"]["verdict"] == "cannot-tell"  # LICENSE present, but not shown to be Gemma's
    assert r["gemma/notice"]["verdict"] == "compliant"  # a NOTICE file is present
    assert r["gemma/passthrough"]["base"] == "google/gemma"
    assert e["verdict"] == "cannot-tell"
    assert [p["id"] for p in e["parents"]] == ["google/gemma", "meta/llama"]
    # MIT has no behavioral obligations: only the Llama 2 rules apply to the other merge
    e2 = _one(con, "m/merge-mit")
    assert {x["rule"].split("/")[0] for x in e2["rules"]} == {"llama2"}
    assert e2["verdict"] == "compliant"


def test_missing_parent_and_unlicensed_parent_are_cannot_tell():
    con = make_store([
        {"id": "u/orphan", "licenses": ["mit"], "files": ["README.md"], "card": "x"},
        {"id": "u/nolicense-base"},
        {"id": "u/child", "licenses": ["mit"], "files": ["README.md"], "card": "x"},
    ], [("u/orphan", "deleted/base", "finetune"), ("u/child", "u/nolicense-base", "finetune")])
    r = _rules(_one(con, "u/orphan"))
    assert r["lineage/base-known"]["verdict"] == "cannot-tell"
    assert "deleted/base is not in the store" in r["lineage/base-known"]["reason"]
    r2 = _rules(_one(con, "u/child"))
    assert r2["lineage/base-license-known"]["verdict"] == "cannot-tell"


def test_cycle_in_lineage_does_not_hang_and_is_reported():
    con = make_store([
        {"id": "a/root", "licenses": ["creativeml-openrail-m"]},
        {"id": "a/x", "licenses": ["mit"], "files": ["README.md"], "card": card("license: mit", "DreamBooth fine-tune")},
        {"id": "a/y", "licenses": ["creativeml-openrail-m"], "files": ["README.md"], "card": "trained on cats"},
    ], [("a/x", "a/root", "finetune"), ("a/y", "a/x", "finetune"), ("a/x", "a/y", "finetune"), ("a/y", "a/y", "merge")])
    rep = audit(con, "a/root", descendants=True)
    assert [d["id"] for d in rep["derivatives"]] == ["a/x", "a/y"]
    assert ["a/y", "a/x"] in rep["summary"]["cycles"]
    x = next(d for d in rep["derivatives"] if d["id"] == "a/x")
    assert _rules(x)["rail/passthrough"]["verdict"] == "violation"
    y = next(d for d in rep["derivatives"] if d["id"] == "a/y")
    assert _rules(y)["rail/passthrough"]["verdict"] == "compliant"


def test_llama3_attribution_name_prefix_and_notice():
    notice = "Meta Llama 3 is licensed under the Meta Llama 3 Community License, Copyright \u00a9 Meta Platforms, Inc. All Rights Reserved."
    con = make_store([
        {"id": "meta-llama/Meta-Llama-3-8B", "licenses": ["llama3"]},
        {"id": "u/Llama-3-8B-Chem", "licenses": ["llama3"], "files": ["LICENSE", "USE_POLICY.md"],
         "card": card("license: llama3", "Built with Meta Llama 3\n\n" + notice)},
        {"id": "u/ChemChat-8B", "licenses": ["llama3"], "files": ["README.md"], "card": card("license: llama3", "A chemistry bot")},
        {"id": "q/Meta-Llama-3-8B-GGUF", "licenses": ["llama3"], "files": ["LICENSE"], "card": card("license: llama3", "quants")},
    ], [("u/Llama-3-8B-Chem", "meta-llama/Meta-Llama-3-8B", "finetune"),
        ("u/ChemChat-8B", "meta-llama/Meta-Llama-3-8B", "finetune"),
        ("q/Meta-Llama-3-8B-GGUF", "meta-llama/Meta-Llama-3-8B", "quantized")])
    good = _one(con, "u/Llama-3-8B-Chem")
    assert good["verdict"] == "compliant", good
    bad = _rules(_one(con, "u/ChemChat-8B"))
    assert bad["llama3/built-with"]["verdict"] == "violation"
    assert "Built with Meta Llama 3" in bad["llama3/built-with"]["reason"]
    assert bad["llama3/name-prefix"]["verdict"] == "violation"
    assert bad["llama3/name-prefix"]["evidence"] == [{"source": "model_name", "value": "ChemChat-8B"}]
    assert bad["llama3/copy-of-agreement"]["verdict"] == "violation"
    quant = _rules(_one(con, "q/Meta-Llama-3-8B-GGUF"))
    assert "llama3/name-prefix" not in quant  # naming covers models built with Llama 3, not quantized copies
    assert quant["llama3/notice"]["verdict"] == "compliant"  # the agreement copy quotes the notice


def test_llama31_notice_and_built_with_llama():
    con = make_store([
        {"id": "meta-llama/Llama-3.1-8B", "licenses": ["llama3.1"]},
        {"id": "u/Llama-Med", "licenses": ["llama3.1"], "files": ["README.md"],
         "card": card("license: llama3.1", "Built with Llama. Llama 3.1 is licensed under the Llama 3.1 Community "
                                           "License, Copyright \u00a9 Meta Platforms, Inc. All Rights Reserved.")},
        {"id": "u/Med-Llama", "licenses": ["mit"], "files": ["README.md"], "card": card("license: mit", "a model")},
    ], [("u/Llama-Med", "meta-llama/Llama-3.1-8B", "finetune"), ("u/Med-Llama", "meta-llama/Llama-3.1-8B", "finetune")])
    good = _rules(_one(con, "u/Llama-Med"))
    assert good["llama3x/built-with"]["verdict"] == "compliant"
    assert good["llama3x/name-prefix"]["verdict"] == "compliant"
    assert good["llama3x/notice"]["verdict"] == "compliant"
    # the notice names the license but is not a copy of the agreement
    assert good["llama3x/copy-of-agreement"]["verdict"] == "cannot-tell"
    assert "carries no copy" in good["llama3x/copy-of-agreement"]["reason"]
    bad = _rules(_one(con, "u/Med-Llama"))
    assert bad["llama3x/passthrough"]["verdict"] == "violation"
    assert bad["llama3x/name-prefix"]["verdict"] == "violation"
    assert bad["llama3x/notice"]["verdict"] == "violation"


def test_gemma_terms_policy_and_notice():
    con = make_store([
        {"id": "google/gemma-2b", "licenses": ["gemma"]},
        {"id": "u/gemma-ok", "licenses": ["gemma"], "files": ["LICENSE", "README.md"],
         "card": card("license: gemma", "Fine-tuned on recipes. Gemma is provided under and subject to the Gemma "
                                        "Terms of Use found at ai.google.dev/gemma/terms. See the Prohibited Use Policy.")},
        {"id": "u/gemma-apache", "licenses": ["apache-2.0"], "files": ["README.md"], "card": card("license: apache-2.0", "hi")},
    ], [("u/gemma-ok", "google/gemma-2b", "finetune"), ("u/gemma-apache", "google/gemma-2b", "finetune")])
    ok = _one(con, "u/gemma-ok")
    assert ok["verdict"] == "compliant", ok
    bad = _rules(_one(con, "u/gemma-apache"))
    assert bad["gemma/passthrough"]["verdict"] == "violation"
    assert bad["gemma/prohibited-use-policy"]["verdict"] == "violation"
    assert bad["gemma/notice"]["verdict"] == "violation"
    assert bad["gemma/modified-files"]["verdict"] == "cannot-tell"  # never a violation: files are not inspected


def test_non_commercial_base_rules():
    con = make_store([
        {"id": "lab/nc", "licenses": ["cc-by-nc-4.0"]},
        {"id": "u/commercial", "licenses": ["apache-2.0"], "files": ["README.md"], "card": "x"},
        {"id": "u/nc", "licenses": ["cc-by-nc-sa-4.0"], "files": ["README.md"], "card": "x"},
        {"id": "u/unknown", "licenses": [], "files": ["README.md"], "card": "x"},
    ], [("u/commercial", "lab/nc", "finetune"), ("u/nc", "lab/nc", "finetune"), ("u/unknown", "lab/nc", "finetune")])
    assert _rules(_one(con, "u/commercial"))["noncommercial/no-commercial-relicense"]["verdict"] == "violation"
    assert _rules(_one(con, "u/nc"))["noncommercial/no-commercial-relicense"]["verdict"] == "compliant"
    assert _rules(_one(con, "u/unknown"))["noncommercial/no-commercial-relicense"]["verdict"] == "cannot-tell"


def test_rail_family_and_railtrack_generated_licenses():
    con = make_store([
        {"id": "sd/base", "licenses": ["openrail++"]},
        {"id": "u/creativeml", "licenses": ["creativeml-openrail-m"], "files": ["LICENSE", "README.md"],
         "card": card("license: creativeml-openrail-m", "DreamBooth fine-tune of sd/base")},
        {"id": "u/mit", "licenses": ["mit"], "files": ["README.md"], "card": card("license: mit", "textual inversion")},
        {"id": "acme/generated", "licenses": ["other"], "license_name": "rt-0123456789ab"},
        {"id": "u/gen-child", "licenses": ["rt-0123456789ab"], "files": ["LICENSE.md"], "card": "fine-tuned"},
        {"id": "u/gen-mit", "licenses": ["mit"], "files": ["README.md"], "card": "fine-tuned"},
    ], [("u/creativeml", "sd/base", "finetune"), ("u/mit", "sd/base", "finetune"),
        ("u/gen-child", "acme/generated", "finetune"), ("u/gen-mit", "acme/generated", "finetune")])
    assert _one(con, "u/creativeml")["verdict"] == "compliant"
    mit = _rules(_one(con, "u/mit"))
    assert mit["rail/passthrough"]["verdict"] == "violation"
    assert "openrail++" in mit["rail/passthrough"]["reason"]
    assert _rules(_one(con, "u/gen-child"))["rail/passthrough"]["verdict"] == "compliant"
    assert _rules(_one(con, "u/gen-mit"))["rail/passthrough"]["verdict"] == "violation"


def test_permissive_base_has_no_obligations():
    con = make_store([{"id": "msft/phi", "licenses": ["mit"]},
                      {"id": "u/x", "licenses": ["apache-2.0"], "files": ["README.md"], "card": "x"}],
                     [("u/x", "msft/phi", "finetune")])
    e = _one(con, "u/x")
    assert e["rules"] == [] and e["verdict"] == "compliant"


def test_unknown_model_raises_not_found():
    con = make_store([{"id": "a"}])
    with pytest.raises(NotFoundError):
        audit(con, "nobody/nothing")


def test_rules_are_documented():
    rules = describe_rules()
    assert len(rules) == len(load_rules())
    for r in rules:
        assert r["title"] and r["description"] and r["evidence"], r
    families = {r["family"] for r in rules}
    assert {"rail", "llama2", "llama3", "llama3x", "gemma", "noncommercial"} <= families


# -- command line -----------------------------------------------------------------------------
@pytest.fixture
def family_db(tmp_path, llama2_family):
    db = tmp_path / "family.duckdb"
    con = make_store(db=db)
    for table in ("models", "model_cards", "base_models", "license_files"):
        rows = llama2_family.execute(f"SELECT * FROM {table}").fetchall()
        if rows:
            con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    # a card quote that tries to inject markup into the HTML report
    con.execute("UPDATE model_cards SET card = card || '\n<script>alert(1)</script> llama 2 community license' "
                "WHERE model_id = 'a/contradiction'")
    con.close()
    return db


def test_audit_command_json(cli, family_db):
    res = cli("audit", "meta-llama/Llama-2-7b-chat-hf", "--descendants", "--json", "--db", str(family_db))
    assert res.code == 0, res
    data = json.loads(res.out)
    assert data["model"] == "meta-llama/Llama-2-7b-chat-hf"
    d = {x["id"]: x for x in data["derivatives"]}
    assert set(d["a/apache"]) >= {"id", "relation", "depth", "declared_license", "verdict", "rules"}
    assert d["a/apache"]["declared_license"] == "apache-2.0"
    assert set(d["a/apache"]["rules"][0]) >= {"rule", "verdict", "reason", "evidence"}
    assert data["summary"]["verdicts"]["violation"] == 2


def test_audit_command_exit_codes(cli, family_db):
    ok = cli("audit", "a/apache", "--db", str(family_db))
    assert ok.code == 0 and "violation" in ok.out and "llama2/passthrough" in ok.out
    fail = cli("audit", "a/apache", "--fail-on-violation", "--db", str(family_db))
    assert fail.code == 1
    assert cli("audit", "a/good", "--fail-on-violation", "--db", str(family_db)).code == 0
    missing = cli("audit", "no/such-model", "--db", str(family_db))
    assert missing.code == 2 and missing.err == "railtrack: error: model 'no/such-model' is not in the store\n"


def test_audit_command_csv_and_html(cli, family_db, tmp_path):
    out_csv, out_html = tmp_path / "a.csv", tmp_path / "a.html"
    res = cli("audit", "meta-llama/Llama-2-7b-chat-hf", "--descendants", "--csv", str(out_csv), "--html", str(out_html),
              "--db", str(family_db))
    assert res.code == 0, res
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text(encoding="utf-8"))))
    assert {r["id"] for r in rows} == {"a/apache", "a/good", "a/unlisted", "a/pasted", "a/contradiction",
                                       "a/apache-GGUF", "a/other-linked"}
    row = next(r for r in rows if r["id"] == "a/apache" and r["rule"] == "llama2/passthrough")
    assert row["rule_verdict"] == "violation" and json.loads(row["evidence"])[0]["value"] == "apache-2.0"
    html = out_html.read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "a/apache" in html and "llama2/passthrough" in html
    stdout_csv = cli("audit", "a/apache", "--csv", "-", "--db", str(family_db))
    assert stdout_csv.out.startswith("id,relation,depth,declared_license,verdict,rule")
    bad = cli("audit", "a/apache", "--html", str(tmp_path / "no" / "dir" / "x.html"), "--db", str(family_db))
    assert bad.code == 2 and bad.err.startswith("railtrack: error: cannot write")


def test_drift_on_a_store_without_edges():
    from railtrack.adherence.drift import drift

    d = drift(make_store([{"id": "a", "licenses": ["mit"]}]))
    assert d["edges"] == 0 and d["mutation_rate"] is None and d["top_transitions"] == []
    assert d["behavioral_use_retention"]["share_keep"] is None
