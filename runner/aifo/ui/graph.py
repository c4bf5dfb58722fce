"""Render the resource graph: a tree (rich on a terminal), Graphviz dot, Mermaid, or stable JSON.

Only ids, kinds, names and config hashes are rendered: never an env value, so never a secret.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aifo.model import Network, Session, Volume
from aifo.model.graph import Edge

if TYPE_CHECKING:
    from rich.console import Console

Layers = Sequence[Sequence[str]]


def graph_json(session: Session, edges: Sequence[Edge], layers: Layers) -> dict[str, Any]:
    """The stable form for other tools: sorted nodes, edges and layers."""
    return {
        "session": session.name,
        "nodes": [
            {
                "id": rid,
                "kind": rid.split("/", 1)[0],
                "name": rid.split("/", 1)[1],
                "config_hash": r.config_hash,
            }
            for rid, r in sorted(session.resources.items())
        ],
        "edges": [{"from": s, "to": t} for s, t in sorted(_pairs(edges))],
        "layers": [sorted(layer) for layer in layers],
        "routes": _routes(session),
    }


def to_json(session: Session, edges: Sequence[Edge], layers: Layers) -> str:
    return json.dumps(graph_json(session, edges, layers), indent=2, sort_keys=True)


def to_dot(session: Session, edges: Sequence[Edge]) -> str:
    lines = [f'digraph "{session.name}" {{', "  rankdir=LR;"]
    lines += [f'  "{rid}" [shape={_SHAPES[_kind(rid)]}];' for rid in sorted(session.resources)]
    lines += [f'  "{s}" -> "{t}";' for s, t in sorted(_pairs(edges))]
    return "\n".join([*lines, "}"])


_SHAPES = {
    "network": "hexagon",
    "volume": "cylinder",
    "image": "note",
    "hook": "cds",
    "agent": "box",
    "toolchain": "box",
    "service": "box",
}


def to_mermaid(session: Session, edges: Sequence[Edge]) -> str:
    # Mermaid ids must be bare words; the resource id goes in the quoted label.
    ids = {rid: f"n{i}" for i, rid in enumerate(sorted(session.resources))}
    lines = ["graph LR"]
    lines += [f'  {ids[rid]}["{rid}"]' for rid in sorted(session.resources)]
    lines += [f"  {ids[s]} --> {ids[t]}" for s, t in sorted(_pairs(edges))]
    return "\n".join(lines)


def tree_rows(session: Session, edges: Sequence[Edge]) -> list[tuple[int, str]]:
    """(depth, label) rows: each resource nothing depends on, with what it depends on below it.

    A resource with dependencies is expanded once; later mentions read `id (*)`, as in
    `cargo tree`, so a shared toolchain doesn't repeat its whole subtree.
    """
    deps: dict[str, list[str]] = {}
    has_parent: set[str] = set()
    for s, t in sorted(_pairs(edges)):
        deps.setdefault(s, []).append(t)
        has_parent.add(t)
    rows: list[tuple[int, str]] = []
    expanded: set[str] = set()

    def walk(node: str, depth: int) -> None:
        if node in expanded:
            rows.append((depth, f"{node} (*)"))
            return
        rows.append((depth, node + _marker(session, node)))
        if node in deps:
            expanded.add(node)
            for child in deps[node]:
                walk(child, depth + 1)

    for root in sorted(r for r in session.resources if r not in has_parent):
        walk(root, 0)
    return rows


def to_tree_text(session: Session, edges: Sequence[Edge], layers: Layers) -> str:
    """The tree as plain indented text (pipes, files, logs)."""
    lines = [f"session {session.name}"]
    lines += ["  " * (depth + 1) + label for depth, label in tree_rows(session, edges)]
    lines += _layer_lines(layers) + _route_lines(session)
    return "\n".join(lines)


def print_tree(session: Session, edges: Sequence[Edge], layers: Layers, console: Console) -> None:
    """The tree with rich guides, for a terminal."""
    from rich.tree import Tree

    root = Tree(f"[bold]session {session.name}")
    stack: list[Tree] = [root]
    for depth, label in tree_rows(session, edges):
        del stack[depth + 1 :]
        stack.append(stack[depth].add(label, highlight=False))
    console.print(root)
    console.print("\n".join(_layer_lines(layers) + _route_lines(session)), highlight=False)


def _layer_lines(layers: Layers) -> list[str]:
    lines = ["", "apply order (each layer in parallel; destroy runs it backwards):"]
    lines += [f"  {i}. {', '.join(sorted(layer))}" for i, layer in enumerate(layers, 1)]
    return lines


def _routes(session: Session) -> dict[str, dict[str, str]]:
    """agent id -> {tool: toolchain id}: where each routed tool runs (aifo.route)."""
    return {
        c.id: dict(c.routes) for c in sorted(session.containers, key=lambda c: c.id) if c.routes
    }


def _route_lines(session: Session) -> list[str]:
    from aifo.route.table import route_lines

    routes = {
        a: {t: tc.split("/", 1)[1] for t, tc in r.items()} for a, r in _routes(session).items()
    }
    if not routes:
        return []
    return ["", "routes (tool -> toolchain it runs in):", *(f"  {x}" for x in route_lines(routes))]


def _marker(session: Session, rid: str) -> str:
    resource = session.resources.get(rid)
    if isinstance(resource, Network | Volume) and resource.external:
        return f" (external: {resource.docker_name})"
    return ""


def _kind(rid: str) -> str:
    return rid.split("/", 1)[0]


def _pairs(edges: Sequence[Edge]) -> set[tuple[str, str]]:
    return {(e.source, e.target) for e in edges}
