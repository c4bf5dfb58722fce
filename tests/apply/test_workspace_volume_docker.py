"""The workspace on a node that is not this machine, applied on the local engine (issue 25):
compile is told binds do not reach (as the Swarm adapter says for a remote node), so the
workspace is a volume seeded from a private clone, inside the transaction."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from aifo import pipeline
from aifo.compile.workspace import WORKSPACE_VOLUME
from aifo.errors import ApplyFailed
from aifo.fork.nodeclone import workspace_branch
from aifo.sessionspec import resolve
from tests.apply.helpers import IDLE, IMAGE, counting, docker_state, faulty, write_spec

pytestmark = pytest.mark.docker


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def _repo(tmp: Path, session: str) -> Path:
    repo = tmp / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "u@example.invalid")
    _git(repo, "config", "user.name", "u")
    write_spec(
        repo,
        f"version: 1\nsession: {session}\nagents:\n  a:\n    image: {IMAGE}\n"
        f"    pull: never\n    command: {IDLE}\n",
    )
    (repo / "main.py").write_text("print(1)\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "one")
    (repo / "main.py").write_text("print(2)\n")  # uncommitted: carried as a snapshot
    return repo


def _compiled(repo: Path) -> pipeline.Compiled:
    return pipeline.compile_resolved(resolve(repo / "aifo.yaml"), apparmor=False, reach=False)


def _in_agent(session: str, script: str) -> str:
    return subprocess.run(
        ["docker", "exec", f"aifo-{session}-a", "sh", "-c", script],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def test_the_workspace_is_a_clone_in_a_volume(
    session_name: str, tmp_path: Path, state_dir: Path
) -> None:
    repo = _repo(tmp_path, session_name)
    engine = counting()
    pipeline.apply_compiled(engine, _compiled(repo))
    volume = f"aifo-{session_name}-{WORKSPACE_VOLUME}"
    assert volume in docker_state(session_name)["volumes"]
    mounts = subprocess.run(
        ["docker", "inspect", "-f", "{{range .Mounts}}{{.Type}}:{{.Name}} {{end}}",
         f"aifo-{session_name}-a"], capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert f"volume:{volume}" in mounts and not [m for m in mounts if m.startswith("bind")]
    assert _in_agent(session_name, "cat /workspace/main.py") == "print(2)\n"
    assert _in_agent(session_name, "cat /workspace/.git/HEAD").strip() == (
        f"ref: refs/heads/{workspace_branch(session_name)}"
    )
    # the agent (the user's uid) can write its workspace, the volume's root included
    _in_agent(session_name, "touch /workspace/new && echo x > /workspace/main.py")
    assert (repo / "main.py").read_text() == "print(2)\n"  # the user's tree: untouched
    assert _git(repo, "status", "--porcelain") == "M main.py"
    assert not list(state_dir.rglob("workspace.seed"))  # the host clone is gone
    # a re-apply changes nothing (the volume is never refilled: the agent's work stays)
    again = counting()
    pipeline.apply_compiled(again, _compiled(repo))
    assert again.count == 0
    assert _in_agent(session_name, "cat /workspace/main.py") == "x\n"


@pytest.mark.parametrize("k", [2, 3])  # 1 create_volume, 2 fill_volume, 3 create_container
def test_a_failed_fill_or_later_step_leaves_nothing(
    session_name: str, tmp_path: Path, state_dir: Path, k: int
) -> None:
    repo = _repo(tmp_path, session_name)
    engine = faulty(k)
    with pytest.raises(ApplyFailed):
        pipeline.apply_compiled(engine, _compiled(repo))
    assert engine.calls[1] == "fill_volume"
    state = docker_state(session_name)
    assert state == {"containers": {}, "networks": {}, "volumes": []}
    assert not list(state_dir.rglob("workspace.seed"))
