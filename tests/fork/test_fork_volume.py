"""Fork mode where the forks' nodes are not this machine (issue 25), on the local engine: each
fork's workspace is a volume seeded from its clone; ls, diff, merge and rm bring the work back
through the engine. The same path on a real Swarm: tests/swarm/test_swarm_forks.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aifo.compile.workspace import WORKSPACE_VOLUME
from tests.fork.helpers import Forks, docker_objects, git

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600), pytest.mark.usefixtures("agent_image")]

ELSEWHERE = str(Path(__file__).with_name("elsewhere.py"))


def _run(forks: Forks, *argv: str) -> subprocess.CompletedProcess[str]:
    """`aifo ARGV` as if every session's node were elsewhere (tests/fork/elsewhere.py)."""
    return subprocess.run(
        [sys.executable, ELSEWHERE, "-f", str(forks.repo / "aifo.yaml"), *argv],
        capture_output=True, text=True, timeout=300, cwd=forks.repo, stdin=subprocess.DEVNULL,
        check=False,
    )  # fmt: skip


def _aifo(forks: Forks, *argv: str) -> str:
    proc = _run(forks, *argv)
    assert proc.returncode == 0, f"aifo {' '.join(argv)}: {proc.returncode}\n{proc.stderr}"
    return proc.stdout


def _spec_without_binds(forks: Forks) -> None:
    text = (forks.repo / "aifo.yaml").read_text()
    assert "source:" not in text  # only volumes: nothing a node elsewhere cannot have


def test_forks_work_in_volumes_and_come_back(forks: Forks) -> None:
    _spec_without_binds(forks)
    _aifo(forks, "fork", "new", "2")
    for n in (1, 2):
        volume = f"aifo-{forks.session}-f{n}-{WORKSPACE_VOLUME}"
        assert f"volume {volume}" in docker_objects(forks.session)
        kinds = subprocess.run(
            ["docker", "inspect", "-f", "{{range .Mounts}}{{.Type}}:{{.Destination}} {{end}}",
             f"aifo-{forks.session}-f{n}-coder"], capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        assert "volume:/workspace" in kinds and "bind:/workspace" not in kinds
    # the agent commits in its volume; the host copy does not see it until brought back
    _aifo(
        forks, "fork", "exec", "1", "coder", "--",
        "sh", "-c", "echo agent >> a.txt && git commit -qam 'agent work'",
    )  # fmt: skip
    _aifo(forks, "fork", "exec", "2", "coder", "--", "sh", "-c", "echo two > b.txt")
    host_copy = forks.clones / f"{forks.session}-f1" / "a.txt"
    assert host_copy.read_text() == "hello\n"
    rows = {r["fork"]: r for r in forks.ls_with(_aifo)}
    assert (rows[1]["ahead"], rows[1]["dirty"]) == (1, False)
    assert (rows[2]["ahead"], rows[2]["dirty"]) == (0, True)
    assert host_copy.read_text() == "hello\nagent\n"  # refreshed from the volume
    assert "+agent" in _aifo(forks, "fork", "diff", "1")
    _aifo(forks, "fork", "merge", "1")
    assert (forks.repo / "a.txt").read_text() == "hello\nagent\n"
    assert git(forks.repo, "log", "-1", "--format=%s") == "agent work"
    _aifo(forks, "fork", "rm", "--all", "--force", "--yes")
    assert docker_objects(forks.session) == []
    assert not forks.clones.exists()
