"""What "Docker is as it was" means: a fingerprint of a session's objects, and its comparison.

Same set of containers, networks and volumes; same container IDs, running states and network
attachments; same network IDs, except for a network the apply replaced: Docker can't keep one
while creating another of that name, so its rollback creates it again as it was (same name,
settings and labels; a new id). Taken before an apply (and journaled), checked after a rollback.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from aifo.errors import AifoError, UndoFailed
from aifo.model.observed import Snapshot

if TYPE_CHECKING:
    from aifo.engine.api import Engine, Want

Fingerprint = dict[str, Any]


def fingerprint(snapshot: Snapshot) -> Fingerprint:
    return {
        "containers": {
            name: {"id": c.id, "running": c.running, "networks": sorted(c.networks)}
            for name, c in sorted(snapshot.containers.items())
        },
        "networks": {name: n.id for name, n in sorted(snapshot.networks.items())},
        "volumes": sorted(snapshot.volumes),
    }


def container_ids(fp: Fingerprint) -> set[str]:
    return {str(c["id"]) for c in fp.get("containers", {}).values()}


def network_ids(fp: Fingerprint) -> set[str]:
    return {str(i) for i in fp.get("networks", {}).values()}


def differences(
    before: Fingerprint, after: Fingerprint, recreated: Collection[str] = ()
) -> list[str]:
    """Human-readable differences; empty when the postcondition holds. `recreated`: networks
    the rollback created again (their new id is expected)."""
    out: list[str] = []
    bc, ac = before.get("containers", {}), after.get("containers", {})
    for name in sorted(ac.keys() - bc.keys()):
        out.append(f"container {name} was left behind")
    for name in sorted(bc.keys() - ac.keys()):
        out.append(f"container {name} is gone")
    for name in sorted(bc.keys() & ac.keys()):
        b, a = bc[name], ac[name]
        if b["id"] != a["id"]:
            out.append(f"container {name} has a new id")
        if b["running"] != a["running"]:
            out.append(
                f"container {name} is {'running' if a['running'] else 'stopped'}, "
                f"was {'running' if b['running'] else 'stopped'}"
            )
        if sorted(b["networks"]) != sorted(a["networks"]):
            out.append(f"container {name} is on {a['networks']}, was on {b['networks']}")
    bn, an = before.get("networks", {}), after.get("networks", {})
    for name in sorted(an.keys() - bn.keys()):
        out.append(f"network {name} was left behind")
    for name in sorted(bn.keys() - an.keys()):
        out.append(f"network {name} is gone")
    for name in sorted(bn.keys() & an.keys()):
        if bn[name] != an[name] and name not in recreated:
            out.append(f"network {name} has a new id")
    bv, av = set(before.get("volumes", [])), set(after.get("volumes", []))
    out += [f"volume {name} was left behind" for name in sorted(av - bv)]
    out += [f"volume {name} is gone" for name in sorted(bv - av)]
    return out


def check_postcondition(
    engine: Engine, session: str, before: Fingerprint, want: Want, recreated: Collection[str] = ()
) -> list[UndoFailed]:
    """After a rollback: is Docker as it was? Each difference is an UndoFailed."""
    try:
        after = engine.observe(session, want)
    except AifoError as exc:
        return [UndoFailed(f"postcondition: could not observe the session: {exc}")]
    found = differences(before, fingerprint(after), recreated)
    return [UndoFailed(f"postcondition: {d}") for d in found]
