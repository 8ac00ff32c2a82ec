"""Lineage graph: finetunes, adapters, quantizations, merges, cycles and dangling parents."""

from __future__ import annotations

import json

from adherence_store import make_store

from railtrack.adherence.lineage import LineageGraph


def _graph(edges, known=None):
    return LineageGraph(edges, known)


def test_descendants_depth_relation_and_order():
    g = _graph([("b", "a", "finetune"), ("c", "b", "quantized"), ("d", "a", "adapter"), ("e", "c", "finetune")],
               known=["a", "b", "c", "d", "e"])
    walk = g.descendants("a")
    got = [(n.id, n.depth, n.relation, n.via) for n in walk.nodes]
    assert got == [("a", 0, "root", None), ("b", 1, "finetune", "a"), ("d", 1, "adapter", "a"),
                   ("c", 2, "quantized", "b"), ("e", 3, "finetune", "c")]
    assert walk.cycle_edges == [] and not walk.truncated
    limited = g.descendants("a", max_depth=1)
    assert limited.ids() == ["a", "b", "d"] and limited.truncated


def test_ancestors_walk_up_through_every_base():
    g = _graph([("b", "a", "finetune"), ("c", "b", "quantized"), ("m", "c", "merge"), ("m", "x", "merge")])
    anc = g.ancestors("m")
    assert {n.id: n.depth for n in anc.nodes} == {"m": 0, "c": 1, "x": 1, "b": 2, "a": 3}


def test_merge_appears_once_with_all_its_parents():
    g = _graph([("p1", "root", "finetune"), ("p2", "root", "finetune"), ("m", "p1", "merge"), ("m", "p2", "merge")])
    walk = g.descendants("root")
    merges = [n for n in walk.nodes if n.id == "m"]
    assert len(merges) == 1
    assert merges[0].depth == 2
    assert sorted(merges[0].parents) == [("p1", "merge"), ("p2", "merge")]
    tree = g.tree("root")
    p1 = next(c for c in tree["children"] if c["id"] == "p1")
    assert p1["children"][0]["id"] == "m"
    assert p1["children"][0]["also_from"] == [{"id": "p2", "relation": "merge"}]


def test_cycles_terminate_and_are_reported():
    # a -> b -> c -> a (a model naming its own descendant as base), plus a self-loop on c
    g = _graph([("b", "a", "finetune"), ("c", "b", "finetune"), ("a", "c", "finetune"), ("c", "c", "finetune")])
    walk = g.descendants("a")
    assert walk.ids() == ["a", "b", "c"]
    assert ("c", "a") in walk.cycle_edges and ("c", "c") in walk.cycle_edges
    up = g.ancestors("a")
    assert up.ids() == ["a", "c", "b"]
    assert up.cycle_edges  # the walk up closes the same loop
    assert g.tree("a")["cycle_edges"]


def test_dangling_parent_is_flagged_missing():
    con = make_store([{"id": "child", "licenses": ["mit"]}], [("child", "gone/base", "finetune")])
    g = LineageGraph.from_store(con)
    up = g.ancestors("child")
    assert [(n.id, n.missing) for n in up.nodes] == [("child", False), ("gone/base", True)]
    assert g.is_missing("gone/base") and not g.is_missing("child")
    assert g.has("gone/base")
    assert not g.has("never/seen")


def test_unknown_relation_is_normalised():
    g = _graph([("b", "a", "distilled")])
    assert g.descendants("a").nodes[1].relation == "unknown"


def test_tree_command_json_and_text(tmp_path, cli):
    db = tmp_path / "s.duckdb"
    con = make_store(
        [{"id": "org/base", "licenses": ["llama2"]}, {"id": "u/ft", "licenses": ["apache-2.0"]},
         {"id": "u/[bold]q"}],
        [("u/ft", "org/base", "finetune"), ("u/[bold]q", "u/ft", "quantized"), ("u/lora", "org/base", "adapter")],
        db=db)
    con.close()
    res = cli("tree", "org/base", "--json", "--db", str(db))
    assert res.code == 0, res
    data = json.loads(res.out)
    assert data["id"] == "org/base" and data["declared_license"] == "llama2"
    kids = {c["id"]: c for c in data["children"]}
    assert kids["u/lora"]["missing"] is True and kids["u/lora"]["relation"] == "adapter"
    assert kids["u/ft"]["children"][0]["id"] == "u/[bold]q"
    text = cli("tree", "org/base", "--db", str(db))
    assert text.code == 0
    assert "u/[bold]q" in text.out  # model ids are printed literally, never as Rich markup
    assert "quantized" in text.out and "(not in store)" in text.out
    up = cli("tree", "u/[bold]q", "--ancestors", "--json", "--db", str(db))
    assert [c["id"] for c in json.loads(up.out)["children"]] == ["u/ft"]
    missing = cli("tree", "no/such", "--db", str(db))
    assert missing.code == 2 and missing.err.startswith("railtrack: error:") and missing.err.count("\n") == 1
