"""The fast compact JSON writer of audit reports, and the bulk evidence load, against the plain paths."""

from __future__ import annotations

import json

from adherence_store import card, make_store

from railtrack.adherence.audit import audit
from railtrack.adherence.evidence import gather
from railtrack.adherence.export import audit_json

BASE = "meta-llama/Llama-2-7b-chat-hf"
NOTICE = "Llama 2 is licensed under the LLAMA 2 Community License, Copyright (c) Meta Platforms, Inc. All Rights Reserved."


def _family(n: int = 300):
    """A base and ``n`` children (more than the 256 ids loaded inline): varied licenses, file
    listings (some unknown, some shared), cards with and without quotes, non-ASCII text."""
    models = [{"id": BASE, "licenses": ["llama2"], "files": ["LICENSE.txt", "USE_POLICY.md"]}]
    edges = []
    for i in range(n):
        lic = [["apache-2.0"], ["mit"], ["llama2"], [], ["other"]][i % 5]
        files = [None, ["README.md", "LICENSE", "USE_POLICY.md"], ["README.md", f"w{i}.safetensors"],
                 ["README.md"]][i % 4]
        body = f"# Modèle «{i}» \"quoted\" \\ back\nFine-tuned from Llama 2." + (f" {NOTICE}" if i % 3 == 0 else "")
        models.append({"id": f"org{i % 7}/m-{i}", "licenses": lic, "files": files,
                       "card": None if i % 11 == 0 else card(f"license: {(lic or ['none'])[0]}", body)})
        edges.append((f"org{i % 7}/m-{i}", BASE if i < 20 else f"org{(i % 20) % 7}/m-{i % 20}",
                      ["finetune", "adapter", "quantized"][i % 3]))
    return make_store(models, edges)


def test_audit_json_is_byte_identical_to_json_dumps():
    con = _family()
    report = audit(con, BASE, descendants=True)
    assert report["summary"]["derivatives"] == 300
    text = audit_json(report)
    assert text == json.dumps(report, ensure_ascii=False, separators=(",", ":"))
    assert json.loads(text)["derivatives"][5]["rules"] == report["derivatives"][5]["rules"]


def test_audit_json_falls_back_when_another_key_is_called_rules():
    # a parent entry with a numeric "rules" key would be taken for a slot: the writer notices
    report = {"model": "x", "derivatives": [
        {"id": "a", "parents": [{"id": "p", "rules": 0}], "rules": [{"rule": "r", "verdict": "compliant"}]},
        {"id": "b", "rules": []},
    ], "summary": {"rules": 3}}
    assert audit_json(report) == json.dumps(report, ensure_ascii=False, separators=(",", ":"))
    odd = {"model": "x", "derivatives": [{"id": "a", "rules": None}]}
    assert audit_json(odd) == json.dumps(odd, ensure_ascii=False, separators=(",", ":"))


def test_bulk_gather_matches_inline_gather():
    # > 256 ids go through a temporary table and per-distinct-list loading; <= 256 inline
    con = _family()
    ids = [BASE, "not/in-store"] + [f"org{i % 7}/m-{i}" for i in range(300)]
    bulk = gather(con, ids)
    for i in range(0, len(ids), 200):
        small = gather(con, ids[i:i + 200])
        for mid, ev in small.items():
            b = bulk[mid]
            assert (b.in_store, b.licenses, b.files, b.card, b.license_files, b.file_classes()) == \
                (ev.in_store, ev.licenses, ev.files, ev.card, ev.license_files, ev.file_classes())
