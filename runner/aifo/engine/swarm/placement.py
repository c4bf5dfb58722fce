"""Which node runs a session on Swarm: aifo chooses, from node facts; Swarm only obeys.

A session's containers share one node: routing, volumes and the workspace are node-local. So
aifo picks the node once and pins every service of the session there (`constraint`): Swarm's
scheduler, left alone, would spread the services. The rule (docs/engine.md, "Swarm: nodes,
placement, verification"):

1. A session that already has services stays where they are (its volumes are there).
2. Otherwise a node must be Ready, Active, and reachable (aifo knows its engine endpoint:
   exec, logs and verification go there); when the spec wants no-new-privileges anywhere, a
   node whose tasks were seen without it (aifo.state.nodefacts) is skipped for `RETRY_AFTER_S`.
3. The fewest aifo services pinned there (a team's sessions spread over its nodes: the reason
   for a swarm; created services count, so a session another process is applying weighs before
   its tasks run); then nodes known to give no-new-privileges; then a hash of the session and
   the node id (rendezvous: stable for a session, and sessions applied at once by separate
   processes, which see the same load, spread instead of all taking the lowest id). A node not
   known yet is proven by its first session's tasks: without no-new-privileges that apply fails
   closed and is rolled back, the fact is recorded, and the next apply avoids the node.

None qualifies: fail closed, naming every node and why. Whatever is chosen, each task is still
verified by facts once it runs (aifo.engine.swarm.verify).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aifo.engine.swarm.nodes import Node, Nodes
from aifo.engine.wire import each
from aifo.errors import EngineError, NoNodeQualifies, UsageError
from aifo.model import LABEL_SESSION
from aifo.state.nodefacts import NodeFact

RETRY_AFTER_S = 600  # a node seen without no-new-privileges is tried again after this
_PREFIX = "node.id=="
DAEMON_FIX = (
    'set "no-new-privileges": true in /etc/docker/daemon.json on that node and restart its '
    "dockerd (Swarm's API drops the per-service setting)"
)


def constraint(node: Node) -> str:
    """The placement constraint that pins a service to `node`."""
    return f"{_PREFIX}{node.id}"


def pinned_to(constraints: Sequence[str]) -> str | None:
    """The node id a service's constraints pin it to, if any."""
    for item in constraints:
        text = item.replace(" ", "")
        if text.startswith(_PREFIX) and len(text) > len(_PREFIX):
            return text[len(_PREFIX) :]
    return None


def _constraints(service: Mapping[str, Any]) -> list[str]:
    spec = service.get("Spec") or {}
    placement = (spec.get("TaskTemplate") or {}).get("Placement") or {}
    found = placement.get("Constraints") or []
    return [str(c) for c in found] if isinstance(found, list) else []


def _labels(service: Mapping[str, Any]) -> Mapping[str, Any]:
    labels = (service.get("Spec") or {}).get("Labels") or {}
    return labels if isinstance(labels, Mapping) else {}


def _ago(seconds: float) -> str:
    return f"{int(seconds)} s ago" if seconds < 120 else f"{int(seconds // 60)} min ago"


def avoided(fact: NodeFact, now: float) -> bool:
    """Whether placement skips the node of `fact` now (seen without no-new-privileges, less
    than RETRY_AFTER_S ago) for a session that wants no-new-privileges."""
    return not fact.nnp and now - fact.at < RETRY_AFTER_S


def pick(
    nodes: Sequence[Node],
    *,
    load: Mapping[str, int],
    facts: Mapping[str, NodeFact],
    reachable: Mapping[str, bool],
    needs_nnp: bool,
    now: float,
    session: str = "",
) -> Node:
    """The rule's steps 2 and 3 (pure): the node for a new session, or NoNodeQualifies."""
    why: list[str] = []
    fit: list[Node] = []
    for node in sorted(nodes, key=lambda n: n.id):
        name = f"{node.hostname or '?'} ({node.id})"
        fact = facts.get(node.id)
        if not node.ready:
            why.append(f"{name}: not ready")
        elif not node.active:
            why.append(f"{name}: not active (drained or paused)")
        elif not reachable.get(node.id, False):
            why.append(f"{name}: no engine endpoint known (AIFO_SWARM_NODES)")
        elif needs_nnp and fact and avoided(fact, now):
            why.append(
                f"{name}: its tasks had no no-new-privileges ({_ago(now - fact.at)}; "
                f"tried again {RETRY_AFTER_S // 60} min after that)"
            )
        else:
            fit.append(node)
    if not fit:
        raise NoNodeQualifies(
            "no node of the swarm can run this session safely",
            items=why or ["the swarm lists no nodes"],
            hint=f"for a node without no-new-privileges: {DAEMON_FIX}; or opt the spec's "
            "containers out (`security: {no_new_privileges: false}`); for the others: "
            "`docker node ls` on the manager, and AIFO_SWARM_NODES for the endpoints",
        )

    def order(node: Node) -> tuple[int, bool, str, str]:
        fact = facts.get(node.id)
        tie = hashlib.sha256(f"{session}\0{node.id}".encode()).hexdigest() if session else ""
        return (load.get(node.id, 0), not (fact is not None and fact.nnp), tie, node.id)

    return min(fit, key=order)


def _read(nodes: Nodes) -> tuple[list[Node], list[dict[str, Any]]]:
    """The node list and aifo's services: one round of 2 requests."""
    manager = nodes.manager
    services = {"label": [LABEL_SESSION]}
    jobs: list[Callable[[], Any]] = [
        nodes.all,
        lambda: manager.call(
            "GET",
            "/services",
            op="list",
            obj="aifo's services",
            query={"filters": json.dumps(services)},
        ),  # fmt: skip
    ]
    results: list[Any] = each(lambda job: job(), jobs)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    listed, svcs = results
    return list(listed), [s for s in svcs or [] if isinstance(s, dict)]


def _reachable(nodes: Nodes, node: Node) -> bool:
    try:
        return nodes.endpoint(node) is not None
    except UsageError:  # a Docker context on tcp: not usable
        return False


def choose_node(
    nodes: Nodes,
    facts: Mapping[str, NodeFact],
    session: str,
    *,
    needs_nnp: bool = True,
    pending: Mapping[str, int] | None = None,
    now: float | None = None,
) -> Node:
    """The node of `session`: where its services already are, else by the rule above. Raises
    NoNodeQualifies (the reasons itemized), or EngineError when the session's services disagree
    or its node left. `pending`: node id -> sessions this process placed there whose tasks do
    not run yet (forks applied at once), counted as load so they spread."""
    listed, services = _read(nodes)
    by_id = {n.id: n for n in listed}
    mine = {
        pinned
        for s in services
        if str(_labels(s).get(LABEL_SESSION, "")) == session
        and (pinned := pinned_to(_constraints(s))) is not None
    }
    if len(mine) > 1:
        raise EngineError(
            f"session {session}'s services are pinned to several nodes ({', '.join(sorted(mine))})",
            hint="destroy the session (aifo destroy) and apply it again",
        )
    if mine:
        node_id = next(iter(mine))
        node = by_id.get(node_id)
        if node is None or not node.ready:
            name = node.hostname if node else node_id
            raise EngineError(
                f"session {session} runs on node {name}, which is "
                f"{'not part of the swarm' if node is None else 'not ready'}",
                hint="its volumes and workspace are on that node: bring the node back, or "
                "destroy the session (aifo destroy) to start it elsewhere",
            )
        return node
    load = Counter(pinned for s in services if (pinned := pinned_to(_constraints(s))))
    load.update(pending or {})
    return pick(
        listed,
        load=load,
        facts=facts,
        reachable={n.id: _reachable(nodes, n) for n in listed},
        needs_nnp=needs_nnp,
        now=time.time() if now is None else now,
        session=session,
    )
