"""Fork mode on a real 2-node Swarm (issue 25): `fork new 2` places each fork (a session) on its
own node; each fork's workspace is its clone in a volume on that node (the nodes are not this
machine); `fork ls` brings the work back through the node's engine; `fork rm` leaves nothing on
any node. A host bind the nodes cannot have is refused before anything is made. Checked
through the Engine API of the manager and of each node (tests/swarm/conftest.py)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aifo.compile.workspace import WORKSPACE_VOLUME
from aifo.engine.wire import Wire
from tests.fork.helpers import git, make_repo

# The Swarm adapter and the 2-node fixture (tests/swarm/conftest.py: `on_swarm`, `swarm_session`
# and the independent view) come with swarm-core; on a branch without them this module is skipped
# whole, so its helpers are looked up when it runs, not imported by name.
pytest.importorskip("aifo.engine.swarm.adapter")
_view: Any = importlib.import_module("tests.swarm.conftest")
EMPTY, nodes_of, remove_session, swarm_state = (
    _view.EMPTY, _view.nodes_of, _view.remove_session, _view.swarm_state,
)  # fmt: skip
Swarm = Any

pytestmark = [pytest.mark.swarm, pytest.mark.slow, pytest.mark.timeout(600)]

IMAGE = "aifo-test/busybox:latest"
SPEC = """\
version: 1
session: {session}
networks:
  sandbox: {{internal: true}}
agents:
  coder:
    image: {image}
    pull: never
    command: [sleep, "2147483647"]
    networks: [sandbox]
{extra}"""


def _aifo(repo: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aifo", "-f", str(repo / "aifo.yaml"), *argv],
        capture_output=True, text=True, timeout=300, cwd=repo, stdin=subprocess.DEVNULL,
        check=False,
    )  # fmt: skip


def _ok(repo: Path, *argv: str) -> str:
    proc = _aifo(repo, *argv)
    assert proc.returncode == 0, f"aifo {' '.join(argv)}: {proc.returncode}\n{proc.stderr}"
    return proc.stdout


def _repo(tmp: Path, session: str, extra: str = "") -> Path:
    repo = make_repo(tmp / "work", session)
    (repo / "aifo.yaml").write_text(SPEC.format(session=session, image=IMAGE, extra=extra))
    git(repo, "commit", "-qam", "spec")
    return repo


def _exec_on(wire: Wire, container: str, *argv: str) -> str:
    """`argv` in `container` through its node's engine (no aifo involved)."""
    body = {"Cmd": list(argv), "AttachStdout": True, "AttachStderr": True}
    created = wire.call(
        "POST", f"/containers/{container}/exec", op="exec", obj=container, body=body
    )
    reply = wire.request("POST", f"/exec/{created['Id']}/start", body={"Detach": False})
    return reply.body.decode(errors="replace")


def test_a_fork_on_each_node(
    on_swarm: Swarm, session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    repo = _repo(tmp_path, session_name)
    forks = [f"{session_name}-f{n}" for n in (1, 2)]
    try:
        _ok(repo, "fork", "new", "2")
        where: dict[str, str] = {}
        for fork in forks:
            state = swarm_state(on_swarm, fork)
            ((node, running),) = {v for v in state["containers"].values()}
            assert running
            where[fork] = node
            assert state["volumes"] == [(f"aifo-{fork}-{WORKSPACE_VOLUME}", node)]
        assert sorted(where.values()) == sorted(nodes_of(on_swarm)), where  # one on each node
        # the clone is in the fork's volume on its node; the agent writes there
        wires = nodes_of(on_swarm)
        for fork, node in where.items():
            found = wires[node].call("GET", "/containers/json", op="list", obj="containers",
                                     query={"filters": json.dumps(
                                         {"label": [f"io.aifo.session={fork}"]})})  # fmt: skip
            (container,) = found
            assert "hello" in _exec_on(wires[node], container["Id"], "cat", "/workspace/a.txt")
            if fork.endswith("-f1"):
                _exec_on(wires[node], container["Id"], "sh", "-c", "echo work > /workspace/b.txt")
        rows = {r["fork"]: r for r in json.loads(_ok(repo, "fork", "ls", "-o", "json"))["forks"]}
        assert (rows[1]["dirty"], rows[2]["dirty"]) == (True, False)  # brought back
        assert (Path(rows[1]["path"]) / "b.txt").read_text() == "work\n"
        _ok(repo, "fork", "rm", "--all", "--force", "--yes")
        for fork in forks:
            assert swarm_state(on_swarm, fork) == EMPTY
    finally:
        for fork in forks:
            remove_session(on_swarm, fork)


def test_a_host_bind_is_refused_before_apply(
    on_swarm: Swarm, swarm_session: str, state_dir: Path, tmp_path: Path
) -> None:
    extra = "    mounts: [{source: ./data, target: /data}]\n"
    repo = _repo(tmp_path, swarm_session, "")
    text = (
        (repo / "aifo.yaml")
        .read_text()
        .replace("    networks: [sandbox]\n", "    networks: [sandbox]\n" + extra)
    )
    (repo / "aifo.yaml").write_text(text)
    (repo / "data").mkdir()
    proc = _aifo(repo, "apply", "--yes")
    assert proc.returncode == 2, proc.stderr
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "source: ./data" in t)
    assert f"aifo.yaml:{line}:" in proc.stderr and "agents.coder.mounts[0].source" in proc.stderr
    assert "not this machine" in proc.stderr and "Traceback" not in proc.stderr
    assert swarm_state(on_swarm, swarm_session) == EMPTY


def test_the_main_workspace_goes_to_the_node_and_back(
    on_swarm: Swarm, swarm_session: str, state_dir: Path, tmp_path: Path
) -> None:
    repo = _repo(tmp_path, swarm_session)
    (repo / "a.txt").write_text("hello\ndirty\n")  # uncommitted: carried as a snapshot commit
    _ok(repo, "apply", "--yes")
    state = swarm_state(on_swarm, swarm_session)
    ((node, running),) = set(state["containers"].values())
    assert running and state["volumes"] == [(f"aifo-{swarm_session}-{WORKSPACE_VOLUME}", node)]
    wire = nodes_of(on_swarm)[node]
    (container,) = wire.call("GET", "/containers/json", op="list", obj="containers",
                             query={"filters": json.dumps(
                                 {"label": [f"io.aifo.session={swarm_session}"]})})  # fmt: skip
    assert _exec_on(wire, container["Id"], "cat", "/workspace/a.txt").endswith("hello\ndirty\n")
    out = _ok(repo, "workspace", "pull")
    branch = f"aifo/{swarm_session}/workspace"
    assert branch in out
    assert git(repo, "show", f"{branch}:a.txt") == "hello\ndirty"
    _ok(repo, "destroy", "--yes", "--volumes")
    assert swarm_state(on_swarm, swarm_session) == EMPTY
