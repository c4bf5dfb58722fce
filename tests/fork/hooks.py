"""Fault injection and pause points for fork mode's git steps and engine calls (test-only).

In-process: `git_faults(monkeypatch, k)` makes the k-th git call fail; `engine_faults` the k-th
mutating engine call. As a child process, for crash tests:

    python tests/fork/hooks.py git|engine K PAUSE_S ARGS...

pauses before the K-th git (or mutating engine) call, printing `aifo-test: paused at K`, then
sleeps PAUSE_S seconds (a crash test kills it meanwhile, a signal test signals it).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aifo.engine.git import Git  # noqa: E402
from aifo.errors import EngineError, GitError  # noqa: E402


class Counter:
    """Counts calls; runs `before(n)` ahead of the n-th."""

    def __init__(self, before: Callable[[int, str], None]) -> None:
        self.count = 0
        self.calls: list[str] = []
        self.before = before
        self._lock = threading.Lock()

    def __call__(self, what: str) -> None:
        with self._lock:
            self.count += 1
            n = self.count
            self.calls.append(what)
        self.before(n, what)


def patch_git(counter: Counter) -> None:
    real = Git.run

    def run(self: Git, cwd: Path, *args: str, **kw: Any) -> tuple[int, str, str]:
        counter(f"git {' '.join(args[:2])}")
        return real(self, cwd, *args, **kw)

    Git.run = run  # type: ignore[method-assign]


def patch_engine(counter: Counter) -> None:
    from aifo import pipeline
    from tests.engine_hooks import CountingEngine

    connect = pipeline.connect

    def counted() -> Any:
        return CountingEngine(connect(), lambda n, name: counter(name))

    pipeline.connect = counted


def fail_at(k: int, kind: str) -> Callable[[int, str], None]:
    def before(n: int, what: str) -> None:
        if n == k:
            error = GitError if kind == "git" else EngineError
            raise error(f"injected fault at {kind} call {n} ({what})")

    return before


def pause_at(k: int, pause_s: float) -> Callable[[int, str], None]:
    def before(n: int, what: str) -> None:
        if n == k:
            print(f"aifo-test: paused at {n} ({what})", file=sys.stderr, flush=True)
            time.sleep(pause_s)

    return before


def _main(argv: list[str]) -> None:
    from aifo.cli import main

    kind, at, pause_s, *args = argv
    counter = Counter(pause_at(int(at), float(pause_s)))
    (patch_git if kind == "git" else patch_engine)(counter)
    main(args)


if __name__ == "__main__":
    _main(sys.argv[1:])
