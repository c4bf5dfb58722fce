"""The resource graph: model → networkx DiGraph, cycles named, layers for parallel execution.

Edges run from the dependent to what it depends on: container → network, volume, image;
agent → toolchain; container → depends_on target; hook → container. Layers (topological
generations of the reversed graph) put dependencies first; teardown runs them backwards.

`edges()` is plain Python; networkx (0.15 s to import) is loaded only to build the DiGraph.
`layers()` memoizes its answer by the edge list's digest in an optional cache folder, so a
no-op apply of an unchanged spec never imports networkx.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import Issue, SpecError
from runner.hashing import canonical_json, sha256_hex
from runner.location import Location
from runner.model import Container, Session

if TYPE_CHECKING:
    import networkx as nx

Where = tuple[str | int, ...]  # the JSON path in the spec that declared an edge


@dataclass(frozen=True)
class Edge:
    source: str  # dependent
    target: str  # dependency
    where: Where = ()


def edges(session: Session) -> list[Edge]:
    """Every dependency edge, with the spec path that declared it."""
    out: list[Edge] = []
    keys = {"agent": "agents", "toolchain": "toolchains", "service": "services"}
    for c in session.containers:
        base: Where = (keys[c.role], c.name)
        out.append(Edge(c.id, f"image/{c.image}", (*base, "image")))
        out += [Edge(c.id, f"network/{n}", (*base, "networks")) for n in c.networks]
        out += [
            Edge(c.id, f"volume/{m.source}", (*base, "mounts"))
            for m in c.mounts
            if m.kind == "volume"
        ]
        out += [Edge(c.id, t, (*base, "toolchains", t.split("/", 1)[1])) for t in c.toolchains]
        out += [
            Edge(c.id, d.target, (*base, "depends_on", d.target.split("/", 1)[1]))
            for d in c.depends_on
        ]
    for h in session.hooks:
        container = session.resources[h.container]
        assert isinstance(container, Container)
        where: Where = (keys[container.role], container.name, "hooks")
        out.append(Edge(h.id, h.container, where))
    return out


def build(session: Session, locate: Any = None, edge_list: list[Edge] | None = None) -> nx.DiGraph:
    """The DiGraph; raises SpecError naming the whole cycle when there is one."""
    import networkx as nx

    graph = nx.DiGraph()
    for rid, resource in sorted(session.resources.items()):
        graph.add_node(rid, resource=resource)
    for e in edges(session) if edge_list is None else edge_list:
        graph.add_edge(e.source, e.target, where=e.where)
    _check_acyclic(graph, locate)
    return graph


def _check_acyclic(graph: nx.DiGraph, locate: Any) -> None:
    import networkx as nx

    if nx.is_directed_acyclic_graph(graph):  # a topological sort: far cheaper than find_cycle
        return
    cycle = nx.find_cycle(graph)
    # Rotate so the report starts at the smallest id: the same cycle always reads the same.
    nodes = [u for u, _ in cycle]
    start = nodes.index(min(nodes))
    nodes = nodes[start:] + nodes[:start]
    chain = " → ".join([*nodes, nodes[0]])
    steps = []
    first: Location | None = None
    for u, v in zip(nodes, nodes[1:] + nodes[:1], strict=True):
        where = graph.edges[u, v]["where"]
        loc = locate(*where) if locate else None
        first = first or loc
        steps.append(f"    {u} → {v}" + (f"  ({loc.short})" if loc else ""))
    message = "dependency cycle: " + chain + "\n" + "\n".join(steps)
    raise SpecError(
        [Issue(first, "", message, "break the cycle: remove one depends_on or toolchain")]
    )


def layers(
    session: Session, *, locate: Any = None, cache_dir: Path | None = None
) -> list[list[str]]:
    """Resource ids in dependency order: each layer depends only on earlier layers."""
    edge_list = edges(session)
    key = sha256_hex(
        canonical_json([sorted(session.resources), sorted((e.source, e.target) for e in edge_list)])
    )
    cached = _cache_read(cache_dir, key)
    if cached is not None:
        return cached
    import networkx as nx

    graph = build(session, locate, edge_list)
    result = [sorted(layer) for layer in nx.topological_generations(graph.reverse(copy=False))]
    _cache_write(cache_dir, key, result)
    return result


def teardown_layers(order: list[list[str]]) -> list[list[str]]:
    return [list(layer) for layer in reversed(order)]


def _cache_read(cache_dir: Path | None, key: str) -> list[list[str]] | None:
    if cache_dir is None:
        return None
    try:
        value = json.loads((cache_dir / f"layers-{key}.json").read_text())
    except (OSError, ValueError):
        return None
    if isinstance(value, list) and all(isinstance(layer, list) for layer in value):
        return value
    return None


def _cache_write(cache_dir: Path | None, key: str, value: list[list[str]]) -> None:
    """Only acyclic answers are ever written (build raised otherwise). Best effort."""
    if cache_dir is None:
        return
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f".layers-{key}.{os.getpid()}"
        tmp.write_text(json.dumps(value))
        tmp.replace(cache_dir / f"layers-{key}.json")
    except OSError:
        pass
