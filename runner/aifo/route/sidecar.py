"""The sidecars one agent's routes reach: found by name, checked to be this session's and running,
with the folders the agent and the sidecar mount from the same host path (the workspace)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aifo.engine.api import Engine
from aifo.errors import NotFound
from aifo.model import LABEL_SESSION, Container, Mount
from aifo.route.layout import ROUTE_TARGET


@dataclass(frozen=True)
class Sidecar:
    """The toolchain container a routed tool runs in, or why it cannot."""

    toolchain: Container
    ref: str | None  # None: not running (or not this session's)
    problem: str  # why not, for the caller's message
    shared: tuple[tuple[str, str], ...]  # (agent folder, sidecar folder) with the same source


def route_folder(agent: Container) -> Path | None:
    """The host folder compile mounted at ROUTE_TARGET in `agent`, if it routes anything."""
    for mount in agent.mounts:
        if mount.target == ROUTE_TARGET and mount.kind == "bind" and mount.source:
            return Path(mount.source)
    return None


def route_mount(agent: Container) -> Mount | None:
    """The agent's mount at ROUTE_TARGET: a host folder (bind) or a tmpfs (the exec transport)."""
    for mount in agent.mounts:
        if mount.target == ROUTE_TARGET and mount.kind in ("bind", "tmpfs"):
            return mount
    return None


def _shared(agent: Container, toolchain: Container) -> tuple[tuple[str, str], ...]:
    """Folders both mount from one source: a host folder, or a volume (on Swarm, where binds do
    not reach, the workspace is the session's volume; a session's containers share a node)."""
    kinds = ("bind", "volume")
    theirs = {(m.kind, m.source): m.target for m in toolchain.mounts if m.kind in kinds}
    return tuple(
        (m.target, theirs[(m.kind, m.source)])
        for m in agent.mounts
        if m.kind in kinds and m.source and (m.kind, m.source) in theirs
        and m.target != ROUTE_TARGET
    )  # fmt: skip


def locate(
    engine: Engine, session: str, agent: Container, toolchains: Mapping[str, Container]
) -> dict[str, Sidecar]:
    """Each toolchain's sidecar (by graph id), or why it cannot run a routed command."""
    names = [tc.docker_name for tc in toolchains.values()]
    try:
        found = {o.name.lstrip("/"): o for o in engine.inspect_containers(names)}
    except NotFound:
        found = {}
        for name in names:
            try:
                found.update({o.name.lstrip("/"): o for o in engine.inspect_containers([name])})
            except NotFound:
                continue
    out: dict[str, Sidecar] = {}
    for tc_id, tc in toolchains.items():
        seen = found.get(tc.docker_name)
        problem = ""
        if seen is None:
            problem = f"its container {tc.docker_name} does not exist"
        elif seen.labels.get(LABEL_SESSION) != session:
            problem = f"{tc.docker_name} is not this session's container"
        elif not seen.running:
            problem = f"its container {tc.docker_name} is {seen.state}"
        ref = None if problem or seen is None else (seen.id or seen.name)
        out[tc_id] = Sidecar(tc, ref, problem, _shared(agent, tc))
    return out
