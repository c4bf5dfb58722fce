"""A real 2-node swarm of our own for the node-access tests (scripts/swarm-nodes), and services
on it. Plain subprocess and the Engine API wire: nothing here depends on the adapter under test.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aifo.engine.wire import Wire

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "swarm-nodes"
LABEL = "io.aifo.test-swarm-nodes"
IMAGE = "aifo-test/busybox:latest"


@dataclass(frozen=True)
class Swarm:
    name: str
    environ: dict[str, str]  # DOCKER_HOST (the manager) and AIFO_SWARM_NODES

    @property
    def manager(self) -> Wire:
        return Wire(self.environ["DOCKER_HOST"].removeprefix("unix://"))

    def socket(self, short: str) -> str:
        """The host path of node `n1`/`n2`'s socket."""
        return f"/run/aifo-swarm/{self.name}/{self.name}-{short}/docker.sock"

    def hostname(self, short: str) -> str:
        return f"{self.name}-{short}"

    def node_id(self, short: str) -> str:
        nodes = self.manager.call("GET", "/nodes", op="list", obj="nodes")
        return next(
            str(n["ID"]) for n in nodes if n["Description"]["Hostname"] == self.hostname(short)
        )


def _script(*args: str) -> str:
    done = subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@contextmanager
def swarm(*options: str, prefix: str = "sw-nodes") -> Iterator[Swarm]:
    """`scripts/swarm-nodes up` under a unique name, `down` at the end whatever happened."""
    name = f"{prefix}-{secrets.token_hex(3)}"
    try:
        out = _script("up", "--name", name, *options)
        environ: dict[str, str] = {}
        for line in out.splitlines():
            if line.startswith("export "):
                key, _, value = line.removeprefix("export ").partition("=")
                environ[key] = value
        yield Swarm(name, environ)
    finally:
        _script("down", "--name", name)


def create_service(
    manager: Wire,
    name: str,
    *,
    node: str,
    image: str = IMAGE,
    args: tuple[str, ...] = ("sleep", "600"),
    container: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] | None = None,
    constraints: list[str] | None = None,
) -> str:
    """A one-replica service pinned to the node with hostname `node` (or by `constraints`);
    returns its id."""
    body = {
        "Name": name,
        "Labels": {LABEL: "true", **(labels or {})},
        "TaskTemplate": {
            "ContainerSpec": {"Image": image, "Args": list(args), **(container or {})},
            "Placement": {"Constraints": constraints or [f"node.hostname=={node}"]},
            "RestartPolicy": {"Condition": "none"},
        },
        "Mode": {"Replicated": {"Replicas": 1}},
        "EndpointSpec": {"Mode": "dnsrr"},
    }
    created = manager.call("POST", "/services/create", op="create service", obj=name, body=body)
    return str(created["ID"])


def wait_for(predicate: Any, *, timeout_s: float = 30.0, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not hold within {timeout_s:g} s")


def remove_services(manager: Wire) -> None:
    services = manager.call(
        "GET", "/services", op="list", obj="services",
        query={"filters": f'{{"label":["{LABEL}"]}}'},
    )  # fmt: skip
    for service in services:
        manager.request("DELETE", f"/services/{service['ID']}")
