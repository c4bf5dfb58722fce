"""`fork new 2` is one transaction: a fault at every git call and at every mutating engine call
leaves nothing (no clone, branch, ref, container, network, record, journal); a SIGKILL at
several points is rolled back by the next `aifo fork` command."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from aifo.engine.git import Git
from tests.cli.helpers import run
from tests.engine_hooks import CountingEngine
from tests.fork.helpers import Forks, git, leftovers
from tests.fork.hooks import Counter, fail_at

pytestmark = [
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.usefixtures("agent_image"),
]


def _patch(monkeypatch: pytest.MonkeyPatch, git_counter: Counter, engine_counter: Counter) -> None:
    from aifo import pipeline

    real_run = Git.run
    real_connect = pipeline.connect

    def git_run(self: Git, cwd: Path, *args: str, **kw: Any) -> tuple[int, str, str]:
        git_counter(f"git {' '.join(args[:2])}")
        return real_run(self, cwd, *args, **kw)

    def connect() -> Any:
        return CountingEngine(real_connect(), lambda n, name: engine_counter(name))

    monkeypatch.setattr(Git, "run", git_run)
    monkeypatch.setattr(pipeline, "connect", connect)


def _new(
    forks: Forks, monkeypatch: pytest.MonkeyPatch, git_k: int = 0, engine_k: int = 0
) -> tuple[int, Counter, Counter]:
    counters = Counter(fail_at(git_k, "git")), Counter(fail_at(engine_k, "engine"))
    with monkeypatch.context() as patched:
        _patch(patched, *counters)
        code = run(["-f", str(forks.repo / "aifo.yaml"), "fork", "new", "2", "--include-dirty"])
    return code, *counters


def test_a_fault_at_every_step_of_fork_new_leaves_nothing(
    forks: Forks, monkeypatch: pytest.MonkeyPatch
) -> None:
    (forks.repo / "a.txt").write_text("uncommitted\n")  # --include-dirty: the snapshot's steps too
    empty = leftovers(forks)
    code, gits, engines = _new(forks, monkeypatch)
    assert code == 0
    assert gits.count >= 15 and engines.count >= 6, (gits.calls, engines.calls)
    forks.ok("fork", "rm", "--all", "--yes", "--force")
    assert leftovers(forks) == empty
    for k in range(1, gits.count + 1):
        code, *_ = _new(forks, monkeypatch, git_k=k)
        assert code == 1, f"git fault {k} ({gits.calls[k - 1]}) did not fail fork new"
        assert leftovers(forks) == empty, f"git fault {k} ({gits.calls[k - 1]})"
    for k in range(1, engines.count + 1):
        code, *_ = _new(forks, monkeypatch, engine_k=k)
        assert code == 1, f"engine fault {k} did not fail fork new"
        assert leftovers(forks) == empty, f"engine fault {k}"
    assert (forks.repo / "a.txt").read_text() == "uncommitted\n"  # the main tree untouched
    code, *_ = _new(forks, monkeypatch)  # and a clean run still works
    assert code == 0 and [r["fork"] for r in forks.ls()] == [1, 2]
    clone = Path(forks.ls()[0]["path"])
    assert (clone / "a.txt").read_text() == "uncommitted\n"
    assert git(clone, "log", "-1", "--format=%an %G?") == "aifo N"  # the snapshot: not signed


def _paused(forks: Forks, kind: str, at: int, pause_s: float = 3600) -> subprocess.Popen[str]:
    """`aifo fork new 2` paused before its `at`-th git or engine call, once it says so."""
    hooks = Path(__file__).with_name("hooks.py")
    argv = [sys.executable, str(hooks), kind, str(at), str(pause_s)]
    child = subprocess.Popen(
        [*argv, "-f", str(forks.repo / "aifo.yaml"), "fork", "new", "2"],
        cwd=forks.repo, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stderr is not None
    deadline = time.monotonic() + 120
    line = ""
    while time.monotonic() < deadline and "aifo-test: paused" not in line:
        line = child.stderr.readline()
        if not line and child.poll() is not None:
            break
    assert "aifo-test: paused" in line, f"never paused ({child.poll()})"
    return child


@pytest.mark.parametrize(
    ("kind", "at", "then"),
    [
        ("git", 9, "fork ls"),
        ("git", 14, "recover"),
        ("engine", 2, "fork ls"),
        ("engine", 7, "recover"),
    ],
)
def test_sigkill_mid_fork_new_is_rolled_back_by_the_next_command(
    forks: Forks, kind: str, at: int, then: str
) -> None:
    empty = leftovers(forks)
    child = _paused(forks, kind, at)
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    proc = forks.aifo(*then.split())
    assert proc.returncode == 0, proc.stderr
    assert "rolled back the unfinished `fork new`" in proc.stderr
    assert forks.ls() == []
    assert leftovers(forks) == empty
    forks.ok("fork", "new", "1")  # and the next fork new works


@pytest.mark.parametrize(("kind", "at"), [("git", 12), ("engine", 3)])
def test_sigterm_mid_fork_new_rolls_everything_back(forks: Forks, kind: str, at: int) -> None:
    empty = leftovers(forks)
    child = _paused(forks, kind, at, pause_s=3)
    child.send_signal(signal.SIGTERM)
    _out, err = child.communicate(timeout=300)
    assert child.returncode == 1, err
    assert "interrupted" in err or "Cancelled" in err or "cancel" in err, err
    assert "rolled back" in err, err
    assert leftovers(forks) == empty
