"""The Swarm tier's fixtures: one real 2-node swarm of our own for the whole run (scripts/swarm-
nodes up under a unique `sw-core-<hex>` name, `down` at the end whatever happened), the
environment that selects it (`AIFO_ENGINE=swarm`, DOCKER_HOST = its manager, AIFO_SWARM_NODES),
and test sessions cleaned up by label on the manager and on every node, with the Engine API
alone (never the adapter under test).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aifo.engine.wire import Wire
from aifo.model import LABEL_SWARM_ROUTE_VOLUME
from tests.apply.helpers import IDLE, IMAGE
from tests.swarm.nodes_helpers import Swarm, swarm

SESSION = "io.aifo.session"


def small_spec(session: str, command: str = IDLE) -> str:
    """2 containers (one without networks), 1 internal overlay, 1 volume."""
    return f"""\
version: 1
session: {session}
networks:
  back: {{internal: true}}
volumes:
  data: {{}}
services:
  db:
    image: {IMAGE}
    pull: never
    command: {command}
    networks: [back]
    mounts: [{{volume: data, target: /data}}]
  worker:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    networks: []
"""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "swarm: needs a real Swarm (scripts/swarm-nodes)")


@pytest.fixture(scope="session")
def core_swarm() -> Iterator[Swarm]:
    """A 2-node swarm (n1 the manager, n2 a worker; both give no-new-privileges)."""
    with swarm(prefix="sw-core") as two:
        yield two


@pytest.fixture
def on_swarm(core_swarm: Swarm, monkeypatch: pytest.MonkeyPatch) -> Swarm:
    """This test talks to the swarm through aifo (and its child processes do too)."""
    monkeypatch.setenv("AIFO_ENGINE", "swarm")
    for key, value in core_swarm.environ.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    return core_swarm


def nodes_of(swarm: Swarm) -> dict[str, Wire]:
    """Hostname -> that node's engine."""
    return {swarm.hostname(s): Wire(swarm.socket(s)) for s in ("n1", "n2")}


def _get(wire: Wire, path: str, **filters: list[str]) -> list[dict[str, Any]]:
    query: dict[str, Any] = {"filters": json.dumps(filters)} if filters else {}
    if path == "/containers/json":
        query["all"] = 1
    data = wire.call("GET", path, op="list", obj=path, query=query)
    if isinstance(data, dict):
        data = data.get("Volumes")
    return [d for d in data or [] if isinstance(d, dict)]


def swarm_state(swarm: Swarm, session: str) -> dict[str, Any]:
    """What the swarm has for the session, read with the Engine API: services (aifo name ->
    replicas), overlays and configs on the manager; containers (name -> node, running) and
    volumes on every node."""
    label = [f"{SESSION}={session}"]
    manager = swarm.manager
    services = {
        s["Spec"]["Labels"].get("io.aifo.name", s["Spec"]["Name"]): s["Spec"]["Mode"]["Replicated"][
            "Replicas"
        ]
        for s in _get(manager, "/services", label=label)
    }
    networks = sorted(n["Name"] for n in _get(manager, "/networks", label=label))
    configs = sorted(c["Spec"]["Name"] for c in _get(manager, "/configs", label=label))
    containers: dict[str, tuple[str, bool]] = {}
    volumes: list[tuple[str, str]] = []
    tmpfs: list[tuple[str, str]] = []  # its tasks' tmpfs volumes (marked as their containers')
    for node, wire in nodes_of(swarm).items():
        for c in _get(wire, "/containers/json", label=label):
            service = c["Labels"].get("com.docker.swarm.service.name", c["Names"][0])
            containers[service] = (node, c["State"] == "running")
        volumes += [(v["Name"], node) for v in _get(wire, "/volumes", label=label)]
        marked = [f"{LABEL_SWARM_ROUTE_VOLUME}={session}"]
        tmpfs += [(v["Name"], node) for v in _get(wire, "/volumes", label=marked)]
    return {
        "services": services,
        "networks": networks,
        "configs": configs,
        "containers": containers,
        "volumes": sorted(volumes),
        "tmpfs": sorted(tmpfs),
    }


EMPTY: dict[str, Any] = {
    "services": {}, "networks": [], "configs": [], "containers": {}, "volumes": [], "tmpfs": [],
}  # fmt: skip


def remove_session(swarm: Swarm, session: str) -> None:
    """Everything labelled with the session, on the manager and every node (teardown)."""
    label = [f"{SESSION}={session}"]
    manager = swarm.manager
    for s in _get(manager, "/services", label=label):
        manager.request("DELETE", f"/services/{s['ID']}")
    for c in _get(manager, "/configs", label=label):
        manager.request("DELETE", f"/configs/{c['ID']}")
    for wire in nodes_of(swarm).values():
        for c in _get(wire, "/containers/json", label=label):
            wire.request("DELETE", f"/containers/{c['Id']}", query={"force": 1})
    for n in _get(manager, "/networks", label=label):
        manager.request("DELETE", f"/networks/{n['Id']}")
    # with the tmpfs volumes of its tasks (marked as their containers', not the session's)
    tmpfs = [f"{LABEL_SWARM_ROUTE_VOLUME}={session}"]
    for wire in nodes_of(swarm).values():
        for v in [*_get(wire, "/volumes", label=label), *_get(wire, "/volumes", label=tmpfs)]:
            wire.request("DELETE", f"/volumes/{v['Name']}", query={"force": 1})


@pytest.fixture
def swarm_session(session_name: str, state_dir: Path, on_swarm: Swarm) -> Iterator[str]:
    """A test session on the swarm, its objects removed by label at teardown (before the
    environment is restored: the shared session fixture then looks at the host's engine)."""
    yield session_name
    remove_session(on_swarm, session_name)
