"""Shared pieces of the transaction tests: specs, an independent view of Docker, fault injection."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any, cast

from aifo import pipeline
from aifo.apply.execute import ApplyResult
from aifo.engine.api import Engine
from aifo.engine.choose import connect
from aifo.errors import EngineError
from tests.engine_hooks import CountingEngine

IMAGE = "aifo-test/busybox:latest"
IDLE = '["sleep", "2147483647"]'


def _container(extra: str = "", networks: str = "[]") -> str:
    return (
        f"image: {IMAGE}\n    pull: never\n    command: {IDLE}\n    networks: {networks}\n"
        + textwrap.indent(textwrap.dedent(extra), "    ")
    ).rstrip()


def spec_v1(session: str) -> str:
    """5 containers in 3 layers, 2 networks, 1 volume, 2 hooks: 13 mutating calls from nothing."""
    return f"""\
version: 1
session: {session}
networks:
  front: {{}}
  back: {{internal: true}}
volumes:
  data: {{}}
services:
  db:
    {_container("mounts: [{volume: data, target: /data}]", "[back]")}
  cache:
    {_container("", "[back]")}
  worker:
    {_container()}
  api:
    {
        _container(
            '''
    env: {MODE: one}
    depends_on: [db, cache]
    hooks: [{name: init, run: "touch /tmp/ready"}]''',
            "[front, back]",
        )
    }
agents:
  bot:
    {
        _container(
            '''
    workspace: false
    depends_on: [api]
    hooks: [{name: hello, run: "true"}]''',
            "[front]",
        )
    }
"""


def spec_v2(session: str) -> str:
    """From v1: api and bot replaced, cache removed, extra added, worker and db untouched."""
    return f"""\
version: 1
session: {session}
networks:
  front: {{}}
  back: {{internal: true}}
volumes:
  data: {{}}
services:
  db:
    {_container("mounts: [{volume: data, target: /data}]", "[back]")}
  worker:
    {_container()}
  extra:
    {_container("", "[front]")}
  api:
    {
        _container(
            '''
    env: {MODE: two}
    depends_on: [db]
    hooks: [{name: init, run: "touch /tmp/ready"}]''',
            "[front, back]",
        )
    }
agents:
  bot:
    {
        _container(
            '''
    workspace: false
    env: {GREETING: hi}
    depends_on: [api]
    hooks: [{name: hello, run: "true"}]''',
            "[front]",
        )
    }
"""


def write_spec(directory: Path, text: str, name: str = "aifo.yaml") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def _lines(*argv: str, cli: str = "docker") -> list[list[str]]:
    out = subprocess.run(
        [cli, *argv], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return [line.split("\t") for line in out.splitlines() if line.strip()]


def _podman_containers(label: str) -> dict[str, Any]:
    """`podman ps` (its `{{.State}}` is the status text, so JSON)."""
    out = subprocess.run(
        ["podman", "ps", "-a", "--filter", label, "--format", "json"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return {
        c["Names"][0]: {
            "id": c["Id"],
            "running": c["State"] == "running",
            "networks": sorted(c.get("Networks") or ["none"]),
        }
        for c in json.loads(out or "[]")
    }


def docker_state(session: str, cli: str = "docker") -> dict[str, Any]:
    """What the engine has for the session, read with its CLI (not with aifo's own code)."""
    label = f"label=io.aifo.session={session}"
    if cli == "podman":
        containers = _podman_containers(label)
    else:
        containers = {
            name: {"id": cid, "running": state == "running", "networks": sorted(nets.split(","))}
            for name, cid, state, nets in _lines(
                "ps", "-a", "--no-trunc", "--filter", label,
                "--format", "{{.Names}}\t{{.ID}}\t{{.State}}\t{{.Networks}}",
            )
        }  # fmt: skip
    networks = dict(
        (name, nid)
        for name, nid in _lines(
            "network", "ls", "--no-trunc", "--filter", label, "--format", "{{.Name}}\t{{.ID}}",
            cli=cli,
        )
    )  # fmt: skip
    volumes = sorted(row[0] for row in _lines("volume", "ls", "--filter", label, "--format",
                                              "{{.Name}}", cli=cli))  # fmt: skip
    return {"containers": containers, "networks": networks, "volumes": volumes}


def shape(state: dict[str, Any]) -> dict[str, Any]:
    """The state without ids: what a successful apply must produce, whoever made it."""
    return {
        "containers": {
            n: {"running": c["running"], "networks": c["networks"]}
            for n, c in state["containers"].items()
        },
        "networks": sorted(state["networks"]),
        "volumes": state["volumes"],
    }


def assert_never_on_bridge(state: dict[str, Any]) -> None:
    for name, c in state["containers"].items():
        assert "bridge" not in c["networks"], f"{name} is on the default bridge"


class InjectedFault(EngineError):
    """Raised by FaultyEngine in place of the k-th mutating call."""


def counting(engine: Engine | None = None) -> CountingEngine:
    return CountingEngine(engine or connect(), lambda n, name: None)


def faulty(k: int, engine: Engine | None = None) -> CountingEngine:
    """Fails the k-th mutating engine call once; later calls (rollback's too) go through."""

    def before(n: int, name: str) -> None:
        if n == k:
            raise InjectedFault(f"injected fault at mutating call {k} ({name})")

    return CountingEngine(engine or connect(), before)


def apply_file(engine: Engine | CountingEngine, spec: Path, **kw: Any) -> ApplyResult:
    return pipeline.apply_compiled(cast(Engine, engine), pipeline.load(spec), **kw)


def destroy_all(session: str) -> None:
    from aifo.apply.destroy import destroy

    destroy(connect(), session, volumes=True)
