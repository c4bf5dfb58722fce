"""Render the resource graph: a tree (rich on a terminal), Graphviz dot, Mermaid, or stable JSON."""

from __future__ import annotations

import json
from typing import Any

from runner.graph import Edge
from runner.model import Session


def graph_json(session: Session, edges: list[Edge], layers: list[list[str]]) -> dict[str, Any]:
    """The stable form for other tools: sorted nodes, edges and layers. No secret ever appears."""
    return {
        "session": session.name,
        "nodes": [
            {
                "id": rid,
                "kind": rid.split("/", 1)[0],
                "name": rid.split("/", 1)[1],
                "config_hash": getattr(r, "config_hash", ""),
            }
            for rid, r in sorted(session.resources.items())
        ],
        "edges": sorted(({"from": e.source, "to": e.target} for e in edges), key=_edge_key),
        "layers": layers,
    }


def _edge_key(e: dict[str, str]) -> tuple[str, str]:
    return (e["from"], e["to"])


def to_json(session: Session, edges: list[Edge], layers: list[list[str]]) -> str:
    return json.dumps(graph_json(session, edges, layers), indent=2, sort_keys=True)


def to_dot(session: Session, edges: list[Edge]) -> str:
    lines = [f'digraph "{session.name}" {{', "  rankdir=LR;"]
    lines += [f'  "{rid}";' for rid in sorted(session.resources)]
    lines += [f'  "{e.source}" -> "{e.target}";' for e in sorted(edges, key=_pair)]
    return "\n".join([*lines, "}"])


def to_mermaid(session: Session, edges: list[Edge]) -> str:
    ids = {rid: f"n{i}" for i, rid in enumerate(sorted(session.resources))}
    lines = ["graph LR"]
    lines += [f'  {ids[rid]}["{rid}"]' for rid in sorted(session.resources)]
    lines += [f"  {ids[e.source]} --> {ids[e.target]}" for e in sorted(edges, key=_pair)]
    return "\n".join(lines)


def to_tree_lines(session: Session, edges: list[Edge]) -> list[tuple[int, str]]:
    """(depth, label) rows: each top-level dependent with what it depends on, recursively."""
    deps: dict[str, list[str]] = {}
    has_parent: set[str] = set()
    for e in sorted(edges, key=_pair):
        deps.setdefault(e.source, []).append(e.target)
        has_parent.add(e.target)
    rows: list[tuple[int, str]] = []

    def walk(node: str, depth: int, seen: frozenset[str]) -> None:
        rows.append((depth, node))
        for child in deps.get(node, ()):
            if child not in seen:
                walk(child, depth + 1, seen | {child})

    for root in sorted(r for r in session.resources if r not in has_parent):
        walk(root, 0, frozenset({root}))
    return rows


def print_tree(session: Session, edges: list[Edge], *, rich: bool) -> None:
    rows = to_tree_lines(session, edges)
    if not rich:
        print(f"session {session.name}")
        for depth, label in rows:
            print("  " * (depth + 1) + label)
        return
    from rich.console import Console
    from rich.tree import Tree

    tree = Tree(f"[bold]session {session.name}")
    stack: list[Tree] = [tree]
    for depth, label in rows:
        del stack[depth + 1 :]
        stack.append(stack[depth].add(label))
    Console().print(tree)


def _pair(e: Edge) -> tuple[str, str]:
    return (e.source, e.target)
