"""Swarm-wide listings for `aifo ls` and `aifo doctor`: every session by its label (services
and their running tasks on the manager, overlays, every node's volumes), and the manager's
facts."""

from __future__ import annotations

from collections.abc import Sequence

from aifo.engine.api import EngineFacts, SessionSummary
from aifo.engine.swarm import observe as O
from aifo.engine.swarm.tasks import tasks_of
from aifo.engine.wire import Wire
from aifo.errors import EngineError
from aifo.model import LABEL_SESSION
from aifo.model.observed import ObservedNetwork, ObservedVolume


def sessions(
    manager: Wire, networks: Sequence[ObservedNetwork], volumes: Sequence[ObservedVolume]
) -> list[SessionSummary]:
    """Every session with objects on the swarm (a container's private overlay is part of
    the container, not counted)."""
    services = [s for s in O.services(manager) if O.session_of(s)]
    tasks = tasks_of(manager, [str(s.get("ID", "")) for s in services])
    counts: dict[str, dict[str, int]] = {}

    def bump(name: str, key: str) -> None:
        row = counts.setdefault(name, {})
        row[key] = row.get(key, 0) + 1

    for service in services:
        bump(O.session_of(service), "containers")
        if any(t.running for t in tasks.get(str(service.get("ID", "")), [])):
            bump(O.session_of(service), "running")
    for net in networks:
        if net.labels.get(LABEL_SESSION) and not O.is_solo(net):
            bump(net.labels[LABEL_SESSION], "networks")
    for vol in volumes:
        if vol.labels.get(LABEL_SESSION):
            bump(vol.labels[LABEL_SESSION], "volumes")
    return [SessionSummary(name, **row) for name, row in sorted(counts.items())]


def facts(manager: Wire) -> EngineFacts:
    """What `aifo doctor` asks, from the manager (`GET /info`, `GET /version`). Overlays need no
    host guard (docs/engine.md, "Swarm"), so none is probed."""
    try:
        info = manager.call("GET", "/info", op="read", obj="engine info")
        version = manager.call("GET", "/version", op="read", obj="engine version")
    except EngineError as exc:
        return EngineFacts(engine="Swarm", error=exc.message)
    info = info if isinstance(info, dict) else {}
    version = version if isinstance(version, dict) else {}
    swarm = info.get("Swarm") or {}
    warnings = [str(w) for w in info.get("Warnings") or []]
    if not swarm.get("ControlAvailable"):
        warnings.append("DOCKER_HOST is not a Swarm manager")
    return EngineFacts(
        engine="Swarm",
        server_version=str(info.get("ServerVersion") or "") or None,
        api_version=str(version.get("ApiVersion") or "") or None,
        os=str(info.get("OperatingSystem") or "") or None,
        storage_driver=str(info.get("Driver") or "") or None,
        security_options=tuple(str(o) for o in info.get("SecurityOptions") or []),
        warnings=tuple(warnings),
    )
