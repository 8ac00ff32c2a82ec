"""The lineage graph: which model derives from which, by what relation.

Built from the store's ``base_models`` table (one row per derivative -> parent edge, the
relation being ``finetune``, ``adapter``, ``quantized``, ``merge`` or ``unknown``). Real Hub
metadata is messy, so the graph tolerates:

* **merges** - a model with several parents appears once, at its smallest depth, and keeps
  every parent that leads to it (``LineageNode.parents``);
* **cycles** - a model that names its own descendant (or itself) as base: traversal
  visits every model once and records the edges that close a cycle (``cycle_edges``);
* **dangling parents** - a base id that is not a model in the store (``missing``).

Traversals are breadth-first over in-memory adjacency lists, so they are linear in the
size of the family (100,000 descendants in well under a second).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable

import duckdb

RELATIONS = ("finetune", "adapter", "quantized", "merge", "unknown")


@dataclass(slots=True)
class LineageNode:
    """One model reached by a traversal from ``root``.

    ``depth`` is the length of the shortest path from the root; ``relation`` is the relation
    on the first edge of that path that reaches this model (``"root"`` for the root itself);
    ``parents`` lists every ``(parent, relation)`` edge from a model inside the traversal
    (for a descendant) or every ``(child, relation)`` edge (for an ancestor).
    """

    id: str
    depth: int
    relation: str
    via: str | None
    parents: list[tuple[str, str]] = field(default_factory=list)
    missing: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "depth": self.depth,
            "relation": self.relation,
            "via": self.via,
            "parents": [{"id": p, "relation": r} for p, r in self.parents],
            "missing": self.missing,
        }


@dataclass
class Traversal:
    """Result of :meth:`LineageGraph.descendants` / :meth:`LineageGraph.ancestors`."""

    root: str
    direction: str
    nodes: list[LineageNode]
    cycle_edges: list[tuple[str, str]]
    truncated: bool = False

    def __len__(self) -> int:
        return len(self.nodes)

    def ids(self) -> list[str]:
        return [n.id for n in self.nodes]

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "direction": self.direction,
            "nodes": [n.to_dict() for n in self.nodes],
            "cycle_edges": [list(e) for e in self.cycle_edges],
            "truncated": self.truncated,
        }


class LineageGraph:
    """Parent/child adjacency of models, with ancestor and descendant traversals."""

    def __init__(self, edges: Iterable[tuple[str, str, str]], known: Iterable[str] | None = None) -> None:
        """``edges`` are ``(model_id, base_id, relation)`` rows; ``known`` the model ids in the store."""
        self.parents: dict[str, list[tuple[str, str]]] = {}
        self.children: dict[str, list[tuple[str, str]]] = {}
        n = 0
        for child, base, relation in edges:
            rel = relation if relation in RELATIONS else "unknown"
            self.parents.setdefault(child, []).append((base, rel))
            self.children.setdefault(base, []).append((child, rel))
            n += 1
        self.edge_count = n
        self.known: set[str] | None = set(known) if known is not None else None

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_store(cls, con: duckdb.DuckDBPyConnection) -> "LineageGraph":
        """Load every ``base_models`` edge and the set of known model ids from the store."""
        edges = con.execute("SELECT model_id, base_id, relation FROM base_models ORDER BY model_id, base_id").fetchall()
        known = [r[0] for r in con.execute("SELECT model_id FROM models").fetchall()]
        return cls(edges, known)

    # -- queries ------------------------------------------------------------------------
    def has(self, model_id: str) -> bool:
        """Whether the model is in the store or appears on any edge."""
        return (self.known is not None and model_id in self.known) or model_id in self.parents or model_id in self.children

    def is_missing(self, model_id: str) -> bool:
        """A model named on an edge (e.g. as a base) that has no row in the store."""
        return self.known is not None and model_id not in self.known

    def parents_of(self, model_id: str) -> list[tuple[str, str]]:
        return list(self.parents.get(model_id, ()))

    def children_of(self, model_id: str) -> list[tuple[str, str]]:
        return list(self.children.get(model_id, ()))

    def descendants(self, model_id: str, max_depth: int | None = None) -> Traversal:
        """Every model derived (directly or not) from ``model_id``, root first, by depth."""
        return self._walk(model_id, self.children, "descendants", max_depth)

    def ancestors(self, model_id: str, max_depth: int | None = None) -> Traversal:
        """Every model ``model_id`` derives from (bases of bases ...), root first, by depth."""
        return self._walk(model_id, self.parents, "ancestors", max_depth)

    def _walk(self, root: str, adjacency: dict[str, list[tuple[str, str]]], direction: str,
              max_depth: int | None) -> Traversal:
        known = self.known
        nodes: dict[str, LineageNode] = {
            root: LineageNode(root, 0, "root", None, [], known is not None and root not in known)
        }
        order = [nodes[root]]
        cycle_edges: list[tuple[str, str]] = []
        truncated = False
        queue: deque[str] = deque([root])
        while queue:
            current = queue.popleft()
            depth = nodes[current].depth
            for nxt, rel in adjacency.get(current, ()):
                node = nodes.get(nxt)
                if node is not None:
                    # reached again: a merge (another path in) or a cycle (back to an ancestor)
                    if node.depth <= depth and (nxt == current or self._reaches(nxt, current, nodes, adjacency)):
                        cycle_edges.append((current, nxt) if direction == "descendants" else (nxt, current))
                    elif (current, rel) not in node.parents:
                        node.parents.append((current, rel))
                    continue
                if max_depth is not None and depth + 1 > max_depth:
                    truncated = True
                    continue
                node = LineageNode(nxt, depth + 1, rel, current, [(current, rel)],
                                   known is not None and nxt not in known)
                nodes[nxt] = node
                order.append(node)
                queue.append(nxt)
        return Traversal(root, direction, order, cycle_edges, truncated)

    @staticmethod
    def _reaches(start: str, target: str, nodes: dict[str, LineageNode],
                 adjacency: dict[str, list[tuple[str, str]]]) -> bool:
        """Whether ``start`` lies on the first-discovery chain (``via`` links) from ``target`` back to
        the root: then an edge from ``target`` to ``start`` closes a cycle."""
        seen = 0
        node = nodes.get(target)
        while node is not None and seen <= len(nodes):
            if node.id == start:
                return True
            node = nodes.get(node.via) if node.via is not None else None
            seen += 1
        return False

    def tree(self, model_id: str, max_depth: int | None = None, direction: str = "descendants") -> dict[str, Any]:
        """A nested ``{id, relation, depth, missing, children: [...]}`` tree for drawing.

        Each model appears once, under the parent that first reached it; further parents of
        a merge are listed in ``also_from``; cycle edges are listed at the top level.
        """
        walk = self.descendants(model_id, max_depth) if direction == "descendants" else self.ancestors(model_id, max_depth)
        by_id: dict[str, dict[str, Any]] = {}
        top: dict[str, Any] | None = None
        for node in walk.nodes:
            item = {
                "id": node.id,
                "relation": node.relation,
                "depth": node.depth,
                "missing": node.missing,
                "also_from": [{"id": p, "relation": r} for p, r in node.parents if p != node.via],
                "children": [],
            }
            by_id[node.id] = item
            if node.via is None:
                top = item
            else:
                by_id[node.via]["children"].append(item)
        assert top is not None
        top["cycle_edges"] = [list(e) for e in walk.cycle_edges]
        top["truncated"] = walk.truncated
        top["direction"] = direction
        return top
