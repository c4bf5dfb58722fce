"""What `aifo status` reports: one row per object, from the spec and one snapshot (pure).

Declared objects with their state and drift, owned objects the spec no longer declares, and
names taken by objects this session does not own.
"""

from __future__ import annotations

from typing import Any

from aifo.model import LABEL_RESOURCE, Session, is_temp_name
from aifo.model.observed import Snapshot
from aifo.plan.compare import Difference
from aifo.plan.judge import judge_container, judge_network


def _drift(reasons: tuple[str, ...], found: tuple[Difference, ...]) -> dict[str, Any]:
    """`drift` and, when there is some, each difference (field, expected, found)."""
    out: dict[str, Any] = {"drift": bool(reasons or found)}
    if reasons or found:
        out["differences"] = [*({"field": r} for r in reasons), *(d.to_dict() for d in found)]
    return out


def status_rows(snap: Snapshot, session: Session | None) -> list[dict[str, Any]]:
    """One row per object: declared ones (with drift), owned leftovers, foreign collisions.

    Drift is judged as the planner judges it (aifo.plan.judge), so status and plan agree."""
    net_names = {n.name: n.docker_name for n in session.networks} if session else {}
    vol_names = {v.name: v.docker_name for v in session.volumes} if session else {}
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()

    def row(kind: str, name: str, resource: str, state: str, **extra: Any) -> None:
        seen.add((kind, name))
        rows.append({"kind": kind, "name": name, "resource": resource, "state": state, **extra})

    replaced: dict[str, str] = {}  # networks the plan replaces: their containers go with them
    if session is not None:
        for net in session.networks:
            if net.external:
                found = net.docker_name in snap.external_networks
                row("network", net.docker_name, net.id, "external" if found else "missing")
                continue
            on = snap.networks.get(net.docker_name)
            if on is None:
                row("network", net.docker_name, net.id, "missing")
            else:
                changed = judge_network(net, on)
                if changed:
                    replaced[net.docker_name] = net.id
                row("network", net.docker_name, net.id, "present", **_drift((), changed))
        for vol in session.volumes:
            present = vol.docker_name in (
                snap.external_volumes
                if vol.external
                else {**snap.volumes, **snap.foreign_volumes}
                if vol.shared
                else snap.volumes
            )
            state = ("external" if vol.external else "present") if present else "missing"
            row("volume", vol.docker_name, vol.id, state)
        for c in session.containers:
            oc = snap.containers.get(c.docker_name)
            if oc is None:
                row("container", c.docker_name, c.id, "missing")
            else:
                networks = [net_names.get(n, n) for n in c.networks]
                stale, facts = judge_container(c, oc, snap.images, networks, vol_names, replaced)
                row(
                    "container",
                    c.docker_name,
                    c.id,
                    oc.state,
                    health=oc.health,
                    id=oc.id[:12],
                    **_drift(stale, facts),
                )
    for name, oc in sorted(snap.containers.items()):
        if ("container", name) not in seen:
            row(
                "container",
                name,
                oc.labels.get(LABEL_RESOURCE, ""),
                oc.state,
                health=oc.health,
                id=oc.id[:12],
                note="not in spec" if session else None,
            )
    for name, on in sorted(snap.networks.items()):
        if ("network", name) not in seen:
            row(
                "network",
                name,
                on.labels.get(LABEL_RESOURCE, ""),
                "present",
                note="not in spec" if session else None,
            )
    for name, ov in sorted(snap.volumes.items()):
        if ("volume", name) not in seen:
            row(
                "volume",
                name,
                ov.labels.get(LABEL_RESOURCE, ""),
                "present",
                note="not in spec" if session else None,
            )
    foreign: list[tuple[str, str]] = [("container", n) for n in snap.foreign_containers]
    foreign += [("network", n) for n in snap.foreign_networks]
    foreign += [("volume", n) for n in snap.foreign_volumes]
    shared = {v.docker_name for v in session.volumes if v.shared} if session else set()
    for kind, name in sorted(foreign):
        if name not in shared and not is_temp_name(name):
            row(kind, name, "", "collision", note="exists but is not owned by this session")
    return rows
