"""Hand-made store contents for the adherence tests (imported by tests/test_lineage.py, test_audit*.py, test_watch.py)."""

from __future__ import annotations

from typing import Any, Iterable

from railtrack.store import connect


def add_models(con: Any, models: Iterable[dict[str, Any]]) -> None:
    """Insert models: ``{id, licenses=[], files=None, card=None, license_name=None, license_link=None,
    identified=None, identified_source=None, license_files=[(path, identified)]}``."""
    for m in models:
        con.execute(
            "INSERT OR REPLACE INTO models (model_id, licenses, files, license_name, license_link, identified_license,"
            " identified_source) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [m["id"], m.get("licenses", []), m.get("files"), m.get("license_name"), m.get("license_link"),
             m.get("identified"), m.get("identified_source")],
        )
        if m.get("card") is not None:
            con.execute("INSERT OR REPLACE INTO model_cards (model_id, card_hash, card) VALUES (?, 'h', ?)",
                        [m["id"], m["card"]])
        for path, ident in m.get("license_files", []):
            con.execute("INSERT OR REPLACE INTO license_files (model_id, path, identified) VALUES (?, ?, ?)",
                        [m["id"], path, ident])


def add_edges(con: Any, edges: Iterable[tuple[str, str, str]]) -> None:
    """Insert ``(child, parent, relation)`` edges."""
    for child, base, rel in edges:
        con.execute("INSERT OR REPLACE INTO base_models (model_id, base_id, relation, source) VALUES (?, ?, ?, 'card')",
                    [child, base, rel])


def make_store(models: Iterable[dict[str, Any]] = (), edges: Iterable[tuple[str, str, str]] = (), db: Any = ":memory:") -> Any:
    con = connect(db)
    add_models(con, models)
    add_edges(con, edges)
    return con


def card(meta: str = "", body: str = "") -> str:
    """A model card: YAML front matter (when ``meta``) and a Markdown body."""
    return (f"---\n{meta.strip()}\n---\n\n" if meta else "") + body
