"""`aifo workspace pull`: the main session's workspace, a clone in a volume on a node elsewhere
(here: the local engine, told binds do not reach), brought back as a branch (issue 25)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.fork.helpers import Forks, git
from tests.fork.test_fork_volume import _aifo, _run

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600), pytest.mark.usefixtures("agent_image")]


def _agent(forks: Forks, script: str) -> str:
    return subprocess.run(
        ["docker", "exec", f"aifo-{forks.session}-coder", "sh", "-c", script],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def test_the_workspace_branch_comes_back(forks: Forks) -> None:
    (forks.repo / "a.txt").write_text("hello\nuncommitted\n")  # carried as a snapshot
    _aifo(forks, "apply", "--yes")
    branch = f"aifo/{forks.session}/workspace"
    _agent(forks, "echo agent >> a.txt && git commit -qam 'agent work' && echo later > c.txt")
    assert git(forks.repo, "branch", "--list", branch) == ""
    out = _aifo(forks, "workspace", "pull")
    assert branch in out and "1 uncommitted change(s) stay in the volume" in out
    assert git(forks.repo, "log", "-1", "--format=%s", branch) == "agent work"
    assert git(forks.repo, "show", f"{branch}:a.txt") == "hello\nuncommitted\nagent"
    assert (forks.repo / "a.txt").read_text() == "hello\nuncommitted\n"  # the tree: untouched
    assert git(forks.repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    # the user's own commits on a branch of that name are never overwritten
    git(forks.repo, "branch", "-f", branch, "main")
    git(forks.repo, "commit", "-qam", "mine")
    git(forks.repo, "branch", "-f", branch, "HEAD")
    refused = _run(forks, "workspace", "pull")
    assert refused.returncode == 1 and "holds commits the workspace does not" in refused.stderr
    assert git(forks.repo, "log", "-1", "--format=%s", branch) == "mine"
    _aifo(forks, "destroy", "--yes", "--volumes")


def test_pull_without_a_volume_says_why(forks: Forks, tmp_path: Path) -> None:
    proc = _run(forks, "workspace", "pull")
    assert proc.returncode == 1
    assert "cannot bring the workspace" in proc.stderr and "Traceback" not in proc.stderr
