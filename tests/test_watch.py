"""Watchlist: add/remove/list, and `watch run` reporting new derivatives, new violations and resolved ones."""

from __future__ import annotations

import json

import pytest
from adherence_store import add_edges, add_models, card, make_store

from railtrack.adherence.watch import watch_add, watch_list, watch_remove, watch_run
from railtrack.errors import NotFoundError
from railtrack.store import connect

BASE = "meta-llama/Llama-2-7b-chat-hf"
GOOD = {"id": "u/good", "licenses": ["llama2"], "files": ["LICENSE.txt", "USE_POLICY.md", "NOTICE"], "card": "x"}


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "watch.duckdb"
    con = make_store([
        {"id": BASE, "licenses": ["llama2"], "files": ["LICENSE.txt"]},
        GOOD,
        {"id": "u/apache", "licenses": ["apache-2.0"], "files": ["README.md"], "card": card("license: apache-2.0", "hi")},
    ], [("u/good", BASE, "finetune"), ("u/apache", BASE, "finetune")], db=path)
    con.close()
    return path


def test_watch_cycle_through_the_cli(cli, db):
    assert cli("watch", "add", BASE, "--db", str(db)).out.strip() == f"watching {BASE}"
    assert cli("watch", "add", BASE, "--db", str(db)).out.strip() == f"already watching {BASE}"
    nope = cli("watch", "add", "no/such", "--db", str(db))
    assert nope.code == 2 and nope.err == "railtrack: error: model 'no/such' is not in the store\n"

    first = cli("watch", "run", "--json", "--db", str(db))
    assert first.code == 1, first  # the first run reports every current violation as new
    rep = json.loads(first.out)
    (w,) = rep["watched"]
    assert w["previous_run"] is None
    assert sorted(w["new_derivatives"]) == ["u/apache", "u/good"]
    assert [v["id"] for v in w["new_violations"]] == ["u/apache"]
    assert any(r["rule"] == "llama2/passthrough" for r in w["new_violations"][0]["rules"])

    second = cli("watch", "run", "--db", str(db))
    assert second.code == 0, second
    assert "0 new, 0 new violations, 0 resolved" in second.out

    # the violator fixes its license, a new violator appears
    con = connect(db)
    add_models(con, [{"id": "u/apache", "licenses": ["llama2"], "files": ["LICENSE", "USE_POLICY.md", "NOTICE"],
                      "card": card("license: llama2", "fixed")},
                     {"id": "u/mit", "licenses": ["mit"], "files": ["README.md"], "card": "x"}])
    add_edges(con, [("u/mit", "u/good", "finetune")])
    con.close()
    third = cli("watch", "run", "--json", "--db", str(db))
    assert third.code == 1
    (w,) = json.loads(third.out)["watched"]
    assert w["previous_run"] == rep["run_id"] + 1
    assert w["new_derivatives"] == ["u/mit"]
    assert [v["id"] for v in w["new_violations"]] == ["u/mit"]
    assert w["resolved"] == [{"id": "u/apache", "verdict": "compliant"}]

    # the new violator is deleted from the store: resolved as gone
    con = connect(db)
    con.execute("DELETE FROM base_models WHERE model_id = 'u/mit'")
    con.execute("DELETE FROM models WHERE model_id = 'u/mit'")
    con.close()
    fourth = cli("watch", "run", "--json", "--db", str(db))
    assert fourth.code == 0
    (w,) = json.loads(fourth.out)["watched"]
    assert w["resolved"] == [{"id": "u/mit", "verdict": "gone"}] and w["new_violations"] == []

    listed = json.loads(cli("watch", "list", "--json", "--db", str(db)).out)
    assert listed == [{"model": BASE, "added_at": listed[0]["added_at"], "last_run": 4, "derivatives": 2, "violations": 0}]
    assert cli("watch", "remove", BASE, "--db", str(db)).code == 0
    again = cli("watch", "remove", BASE, "--db", str(db))
    assert again.code == 2 and "not on the watchlist" in again.err
    assert cli("watch", "list", "--json", "--db", str(db)).out.strip() == "[]"


def test_watch_run_saves_state_in_one_transaction(db):
    con = connect(db)
    watch_add(con, BASE)
    rep = watch_run(con)
    assert rep["totals"] == {"watched": 1, "derivatives": 2, "new_derivatives": 2, "new_violations": 1, "resolved": 0}
    rows = con.execute("SELECT model_id, verdict FROM watch_state WHERE run_id = ? ORDER BY model_id",
                       [rep["run_id"]]).fetchall()
    assert rows == [("u/apache", "violation"), ("u/good", "compliant")]
    saved = json.loads(con.execute("SELECT rules FROM watch_state WHERE model_id = 'u/apache'").fetchall()[0][0])
    assert ["llama2/passthrough", "violation"] in saved
    assert watch_list(con)[0]["violations"] == 1
    watch_remove(con, BASE)
    with pytest.raises(NotFoundError):
        watch_remove(con, BASE)
    empty = watch_run(con)
    assert empty["totals"]["watched"] == 0 and empty["watched"] == []
    con.close()
