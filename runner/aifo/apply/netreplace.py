"""Replacing a network whose settings changed (Docker can't change one in place).

Detach every container on it (running or not: a stopped container keeps its endpoint config),
remove it, then create it as declared (aifo.apply.objects.network_step); the containers on it are
replaced by the planner's container actions. Each step's inverse puts the old one back: discard
the new network, create the old one again as it was (`restore_network`: same name, settings and
labels; a new id, which the postcondition accepts), reconnect the old containers (their aliases:
the declared ones; a departed container gets none).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aifo.apply.ops import op
from aifo.apply.transaction import Step
from aifo.engine.api import Engine
from aifo.model import Session
from aifo.plan.planner import ReplaceNetwork


def replacement_steps(
    engine: Engine, session: Session, replaced: Sequence[ReplaceNetwork]
) -> tuple[list[Step], list[Step]]:
    """(the disconnects, the removals) of `replaced`, each step with its inverse."""
    aliases = {c.docker_name: c.aliases for c in session.containers}
    detach: list[Step] = []
    remove: list[Step] = []
    for action in replaced:
        name = action.docker_name
        for cid, cname in action.detach:
            undo = op("connect_network", network=name, id=cid, aliases=list(aliases.get(cname, ())))
            detach.append(
                Step(
                    "disconnect_network",
                    action.id,
                    {"network": name, "id": cid, "name": cname},
                    undo,
                    _call(engine.disconnect_network, name, cid),
                )
            )
        remove.append(
            Step(
                "remove_network",
                action.id,
                {"name": name, "id": action.old_id},
                op("restore_network", name=name, **dict(action.restore)),
                _call(engine.remove_network, action.old_id),
            )
        )
    return detach, remove


def _call(method: Callable[..., None], *args: Any) -> Callable[[], dict[str, Any] | None]:
    def run() -> None:
        method(*args)

    return run
