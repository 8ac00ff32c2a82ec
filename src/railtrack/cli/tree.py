"""``railtrack tree MODEL``: draw a model's lineage (descendants, or ancestors) in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import NotFoundError
from . import _common


def _label(item: dict[str, Any], licenses: dict[str, str]) -> Any:
    from rich.text import Text

    t = Text()
    t.append(item["id"], style="bold" if item["depth"] == 0 else "")
    if item["depth"]:
        t.append(f"  {item['relation']}", style="cyan")
    lic = licenses.get(item["id"])
    if item["missing"]:
        t.append("  (not in store)", style="dim")
    elif lic is not None:
        t.append(f"  [{lic}]", style="green")
    for other in item.get("also_from", []):
        t.append(f"  also {other['relation']} of {other['id']}", style="magenta")
    return t


def register(app: typer.Typer) -> None:
    @app.command("tree")
    def tree_cmd(
        model: str = typer.Argument(..., help="Model id, e.g. meta-llama/Llama-2-7b-chat-hf."),
        depth: Optional[int] = typer.Option(None, "--depth", min=0, help="Stop at this depth (default: all)."),
        ancestors: bool = typer.Option(False, "--ancestors", help="Draw the model's bases instead of its descendants."),
        limit: int = typer.Option(50, "--limit", min=1, help="Children drawn per model (the rest are counted)."),
        as_json: bool = typer.Option(False, "--json", help="Print the tree as nested JSON."),
        db: Optional[Path] = _common.DbOption,
    ) -> None:
        """Draw the lineage of MODEL: finetunes, adapters, quantizations and merges, with licenses."""
        from rich.tree import Tree

        from ..adherence.lineage import LineageGraph
        from ..store import connect

        con = connect(db, read_only=True)
        con.execute("SET enable_progress_bar = false")  # nothing but the report on stdout
        try:
            graph = LineageGraph.from_store(con)
            if not graph.has(model):
                raise NotFoundError(f"model {model!r} is not in the store")
            data = graph.tree(model, depth, "ancestors" if ancestors else "descendants")
            ids: list[str] = []

            def collect(item: dict[str, Any]) -> None:
                ids.append(item["id"])
                for c in item["children"]:
                    collect(c)

            collect(data)
            from ..adherence.evidence import gather

            ev = gather(con, ids, with_cards=False)
        finally:
            con.close()
        licenses = {i: e.declared for i, e in ev.items() if e.in_store}

        def annotate(item: dict[str, Any]) -> None:
            item["declared_license"] = licenses.get(item["id"])
            for c in item["children"]:
                annotate(c)

        annotate(data)
        if as_json:
            _common.print_json(data)
            return
        root = Tree(_label(data, licenses))

        def draw(node: Any, item: dict[str, Any]) -> None:
            kids = item["children"]
            for c in kids[:limit]:
                draw(node.add(_label(c, licenses)), c)
            if len(kids) > limit:
                node.add(f"... and {len(kids) - limit} more", style="dim")

        draw(root, data)
        _common.stdout.print(root)
        n = len(ids) - 1
        what = "ancestors" if ancestors else "descendants"
        extra = f", {len(data['cycle_edges'])} cycle edges skipped" if data["cycle_edges"] else ""
        extra += ", truncated at --depth" if data["truncated"] else ""
        _common.stderr.print(f"{n} {what}{extra}", markup=False)
