"""The resource graph: model → networkx DiGraph, cycles named, layers for parallel execution.

Edges run from the dependent to what it depends on: container → network, volume, image;
agent → toolchain; container → depends_on target; hook → container. Each edge carries the spec
path that declared it (`Session.origins`, filled by compile); given a locator
(ResolvedSpec.location), `edge_location` turns that into `file:line:col` for error reports.
Layers (topological generations of the reversed graph) put dependencies first, each sorted;
teardown runs them backwards.

`edges()` is plain Python; networkx (0.15 s to import) is loaded only to build the DiGraph.
Pure: no I/O. `layers_key()` digests what the layers depend on, so the composition
(aifo.pipeline) can keep answers between runs in aifo.state.layercache and a no-op apply of an
unchanged spec never imports networkx.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from aifo.errors import SpecError
from aifo.gcpause import gc_paused
from aifo.issue import Issue
from aifo.location import JsonPath, Location
from aifo.model import Session
from aifo.model.hashing import canonical_json, sha256_hex

if TYPE_CHECKING:
    import networkx as nx

Locate = Callable[..., Location | None]  # ResolvedSpec.location: (*path) -> nearest location
ROLE_KEYS = {"agent": "agents", "toolchain": "toolchains", "service": "services"}
CYCLE_HINT = "break the cycle: remove one depends_on or toolchain"


class Edge(NamedTuple):  # a tuple: thousands are made per compile, and they sort as pairs
    source: str  # dependent
    target: str  # dependency
    where: JsonPath = ()  # where the spec declared the edge


def edges(session: Session) -> list[Edge]:
    """Every dependency edge once, in a stable order, with the spec path that declared it."""
    found: dict[tuple[str, str], JsonPath] = {}
    origins = session.origins
    for c in session.containers:
        base: JsonPath = (ROLE_KEYS[c.role], c.name)
        volumes = [f"volume/{m.source}" for m in c.mounts if m.kind == "volume"]
        targets = [
            f"image/{c.image}",
            *(f"network/{n}" for n in c.networks),
            *volumes,
            *c.toolchains,
            *(d.target for d in c.depends_on),
        ]
        for target in targets:
            found.setdefault((c.id, target), origins.get((c.id, target), base))
    for h in session.hooks:
        found.setdefault((h.id, h.container), origins.get((h.id, h.container), ()))
    return [Edge(s, t, where) for (s, t), where in found.items()]


def build(
    session: Session, locate: Locate | None = None, edge_list: list[Edge] | None = None
) -> nx.DiGraph:
    """The DiGraph: node data `resource`, edge data `where` (see `edge_location`).

    Raises SpecError for an edge to an undeclared resource, or naming the whole cycle.
    """
    import networkx as nx

    graph = nx.DiGraph(locate=locate)
    graph.add_nodes_from((rid, {"resource": r}) for rid, r in sorted(session.resources.items()))
    all_edges = edges(session) if edge_list is None else edge_list
    unknown = [e for e in all_edges if e.target not in session.resources]
    if unknown:  # the spec stage checks references; this guards hand-built sessions
        raise SpecError(
            Issue(locate(*e.where) if locate else None, _dotted(e.where), f"no {e.target} declared")
            for e in unknown
        )
    graph.add_edges_from((e.source, e.target, {"where": e.where}) for e in all_edges)
    _check_acyclic(graph)
    return graph


def edge_location(graph: nx.DiGraph, source: str, target: str) -> Location | None:
    """Where the edge was declared, `file:line:col` (None when built without a locator).

    Looked up on demand: locating every edge of a 1,000-container spec costs a sixth of the
    time budget, and only error reports need it.
    """
    locate: Locate | None = graph.graph.get("locate")
    return locate(*graph.edges[source, target]["where"]) if locate else None


def _check_acyclic(graph: nx.DiGraph) -> None:
    import networkx as nx

    if nx.is_directed_acyclic_graph(graph):  # a topological sort: far cheaper than find_cycle
        return
    cycle = nx.find_cycle(graph)
    # Rotate so the report starts at the smallest id: the same cycle always reads the same.
    nodes = [u for u, _ in cycle]
    start = nodes.index(min(nodes))
    nodes = nodes[start:] + nodes[:start]
    steps = []
    first: Location | None = None
    for u, v in zip(nodes, nodes[1:] + nodes[:1], strict=True):
        loc = edge_location(graph, u, v)
        first = first or loc
        steps.append(f"    {u} → {v}" + (f"  ({loc.short})" if loc else ""))
    message = "dependency cycle: " + " → ".join([*nodes, nodes[0]]) + "\n" + "\n".join(steps)
    raise SpecError([Issue(first, "", message, CYCLE_HINT)])


def layers_key(session: Session) -> str:
    """All `layers` depends on (the resource ids and the edges), as a digest: the key under
    which aifo.state.layercache keeps the answer between runs."""
    edge_list = edges(session)
    return sha256_hex(
        canonical_json([sorted(session.resources), sorted((e.source, e.target) for e in edge_list)])
    )


def layers(session: Session, *, locate: Locate | None = None) -> list[list[str]]:
    """Resource ids in dependency order: each layer depends only on earlier layers."""
    import networkx as nx

    with gc_paused():  # networkx allocates a dict per node and edge, all acyclic
        graph = build(session, locate, edges(session))
        return [sorted(g) for g in nx.topological_generations(graph.reverse(copy=False))]


def teardown_layers(order: list[list[str]]) -> list[list[str]]:
    """Dependents first: the layers of `layers()` backwards."""
    return [list(layer) for layer in reversed(order)]


def _dotted(where: JsonPath) -> str:
    return ".".join(str(p) for p in where)
