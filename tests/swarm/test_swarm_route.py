"""Routing for an agent on a worker node (issue 25): the router runs here, the agent and its
toolchain on the swarm's worker; no folder is shared (the route is a tmpfs volume in the agent,
reached only through the node's exec), every routed command is audited here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aifo.engine.swarm.services import mount
from aifo.engine.wire import Wire
from aifo.model import Mount
from tests.swarm.conftest import EMPTY, swarm_state
from tests.swarm.nodes_helpers import IMAGE, Swarm

pytestmark = [pytest.mark.docker, pytest.mark.swarm, pytest.mark.slow, pytest.mark.timeout(600)]


def test_the_route_tmpfs_is_an_executable_volume_on_swarm() -> None:
    """A tmpfs mount is noexec on Swarm (API 1.41): the shims in the route could not run."""
    labels = {"io.aifo.session": "s"}
    m = mount(Mount("tmpfs", "/run/aifo", tmpfs_size="64m"), {}, "aifo-s-a", labels)
    assert m["Type"] == "volume" and m["Target"] == "/run/aifo"
    # named: an anonymous one is left behind when Swarm replaces a task, found by no one
    assert m["Source"] == "aifo-s-a.run.aifo"
    assert m["VolumeOptions"]["Labels"] == {"io.aifo.route-volume-of": "s"}
    options = m["VolumeOptions"]["DriverConfig"]["Options"]
    assert options["type"] == "tmpfs" and "noexec" not in options["o"]
    assert "mode=1777" in options["o"] and "nosuid" in options["o"]
    # every tmpfs so (on one host /tmp and HOME run programs too); odd targets get a digest
    assert mount(Mount("tmpfs", "/tmp"), {}, "aifo-s-a")["Source"] == "aifo-s-a.tmp"
    odd = mount(Mount("tmpfs", "/a b"), {}, "aifo-s-a")["Source"]
    assert (
        odd.startswith("aifo-s-a.a-b-") and odd != mount(Mount("tmpfs", "/a:b"), {}, "x")["Source"]
    )


def _aifo(ws: Path, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "aifo", *argv], cwd=ws, capture_output=True,
        stdin=subprocess.DEVNULL, timeout=timeout, env=os.environ.copy(),
    )  # fmt: skip


def test_a_busybox_agents_tool_is_routed_on_a_worker(
    on_swarm: Swarm, swarm_session: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = on_swarm.hostname("n2")
    # aifo reaches only the worker: the session is placed there (placement leaves n1 out)
    only = [e for e in os.environ["AIFO_SWARM_NODES"].split(",") if e.startswith(f"{worker}=")]
    assert only, os.environ["AIFO_SWARM_NODES"]
    monkeypatch.setenv("AIFO_SWARM_NODES", only[0])
    ws = tmp_path / "ws"
    (ws / "tools").mkdir(parents=True)
    (ws / "tools" / "where").write_text('#!/bin/sh\necho "$(hostname) $(pwd)"; exit "${1:-0}"\n')
    (ws / "tools" / "where").chmod(0o755)
    (ws / "sub").mkdir()
    spec = ws / "aifo.yaml"
    spec.write_text(
        textwrap.dedent(
            f"""\
            version: 1
            session: {swarm_session}
            toolchains:
              tc:
                image: {IMAGE}
                pull: never
                command: [sleep, "2147483647"]
                env: {{PATH: "/workspace/tools:/bin"}}
                tools: [where]
            agents:
              a:
                image: {IMAGE}
                pull: never
                command: [sleep, "2147483647"]
                toolchains: [tc]
            """
        )
    )
    done = _aifo(ws, "apply", "--yes", str(spec))
    assert done.returncode == 0, done.stderr.decode()
    state = swarm_state(on_swarm, swarm_session)
    assert {node for node, _running in state["containers"].values()} == {worker}
    done = _aifo(ws, "exec", str(spec), "a", "--", "sh", "-c", "where; cd sub && where 101")
    assert done.returncode == 101, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    assert [line.split()[1] for line in lines] == ["/workspace", "/workspace/sub"]
    agent_host = _aifo(ws, "exec", str(spec), "a", "--", "hostname").stdout.strip()
    assert lines[0].split()[0] != agent_host.decode()  # it ran in the sidecar, not the agent
    records = json.loads(_aifo(ws, "audit", str(spec), "--kind", "route", "-o", "json").stdout)
    assert [(r["agent"], r["argv"], r["exit_code"]) for r in records[-2:]] == [
        ("a", ["where"], 0), ("a", ["where", "101"], 101),
    ]  # fmt: skip
    # the agent's route: a tmpfs volume on the worker, the session's (with /tmp's and HOME's)
    assert f"aifo-{swarm_session}-a.run.aifo" in _tmpfs_volumes(on_swarm)
    # /tmp runs programs, as on one host (a Swarm tmpfs mount would be noexec)
    script = "printf '#!/bin/sh\\necho ran\\n' >/tmp/x && chmod +x /tmp/x && /tmp/x"
    done = _aifo(ws, "exec", str(spec), "a", "--", "sh", "-c", script)
    assert (done.returncode, done.stdout.strip()) == (0, b"ran"), done.stderr.decode()
    done = _aifo(ws, "plan", "--detailed-exitcode", str(spec))
    assert done.returncode == 0, (done.stdout + done.stderr).decode()  # no drift from it
    done = _aifo(ws, "destroy", "--yes", "--volumes", str(spec))
    assert done.returncode == 0, done.stderr.decode()
    assert swarm_state(on_swarm, swarm_session) == EMPTY
    assert _tmpfs_volumes(on_swarm) == []


def _tmpfs_volumes(swarm: Swarm) -> list[str]:
    """The tmpfs volumes (the routes) on the worker, labelled or not."""
    found = Wire(swarm.socket("n2")).call("GET", "/volumes", op="list", obj="volumes")
    return [
        v["Name"]
        for v in found.get("Volumes") or []
        if (v.get("Options") or {}).get("type") == "tmpfs"
    ]
