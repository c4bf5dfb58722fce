"""Place a fresh Swarm session on another node when its node turned out to lack no-new-privileges.

A node not known yet is proven by its first session's tasks (aifo.engine.swarm.placement): when
its daemon does not set no-new-privileges, the apply fails closed, rolls back and records the
node's fact. `aifo apply` then places the session again (placement now skips that node) and
applies once more, instead of making the user run it again (docs/swarm.md, "Placement"). Only
when that is all that happened, so nothing else about a failure changes:

- the cause is the node alone (aifo.errors.NodeWithoutNnp: no-new-privileges off, the rest of
  the task as declared), and the node's fact is recorded so that placement skips it now;
- the rollback was whole (no undo failure): nothing of the attempt is left;
- the session had no objects before the apply: a fresh placement, never a session moved away
  from its volumes and workspace;
- the node was not tried before in this command: at most one attempt per node of the swarm;
  when none is left, placement's NoNodeQualifies ends it, as it would without a retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping

from aifo.errors import ApplyFailed, NodeWithoutNnp
from aifo.model.observed import Snapshot
from aifo.state.nodefacts import NodeFact, read_facts


class PlaceAgain(Exception):  # noqa: N818 - a signal to the command's loop, not an error
    """Raised out of an attempt (its session lock released on the way) when the session is to
    be placed again; `node` is the node it failed on."""

    def __init__(self, node: NodeWithoutNnp, session: str) -> None:
        self.node = node
        self.session = session
        super().__init__(node.node)


def fresh(before: Snapshot) -> bool:
    """Whether the session had no objects of its own before this apply."""
    return not (before.containers or before.networks or before.volumes)


def node_to_leave(
    failed: ApplyFailed,
    before: Snapshot,
    tried: Collection[str],
    *,
    facts: Callable[[], Mapping[str, NodeFact]] = read_facts,
    now: float | None = None,
) -> NodeWithoutNnp | None:
    """The node a failed apply should be placed away from, or None: the failure stays as it is."""
    cause = failed.cause
    if not isinstance(cause, NodeWithoutNnp) or failed.undo_failures or not fresh(before):
        return None
    if cause.node_id in tried:
        return None
    # the Swarm adapter's modules, only once a Swarm task failed (every `aifo apply` loads this)
    from aifo.engine.swarm.placement import avoided

    fact = facts().get(cause.node_id)
    if fact is None or not avoided(fact, time.time() if now is None else now):
        return None  # placement would choose it again
    return cause


def saying(node: NodeWithoutNnp, session: str) -> str:
    """What the user reads (stderr, and the `apply.retry` event)."""
    return (
        f'node {node.node} does not give no-new-privileges (its daemon.json lacks "no-new-'
        f'privileges": true): rolled back, placing session {session} on another node'
    )
