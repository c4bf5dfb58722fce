"""Test hooks around a real engine: count, fail or pause the k-th mutating call (or request).

They live here, never in the product: a test wraps the engine it passes in, or, for a real
`aifo` process, runs this file as the child (`paused_aifo(...)` builds the command line):

    python tests/engine_hooks.py PAUSE_AT PAUSE_S ARGS...

which wraps `aifo.pipeline.connect` so the k-th mutating call prints `aifo-test: paused at k
(name)` to stderr and sleeps PAUSE_S seconds, then runs `aifo ARGS...`: a crash test can
SIGKILL a real apply mid-transaction, a signal test interrupt it.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aifo.engine.api import Engine, mutating_methods
from aifo.engine.socket_engine import SocketEngine
from aifo.engine.wire import MUTATING as MUTATING_REQUESTS
from aifo.engine.wire import Reply

MUTATING = mutating_methods()


class CountingEngine:
    """Wraps an engine; calls `before(n, name)` ahead of the n-th mutating call (1-based)."""

    def __init__(self, inner: Engine, before: Callable[[int, str], None]) -> None:
        self._inner = inner
        self._before = before
        self._lock = threading.Lock()
        self.count = 0
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in MUTATING:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.count += 1
                n = self.count
                self.calls.append(name)
            self._before(n, name)
            return attr(*args, **kwargs)

        return call


class WireFaults:
    """Counts the mutating Engine API requests (POST, PUT, DELETE) a `SocketEngine` sends and
    answers the k-th with an HTTP 500 instead of sending it: fault injection below the `Engine`
    contract, where one contract call (a create with its connects, a batched start or
    remove) is several requests. The session lock's requests are passed through uncounted: the
    lock is outside the transaction (its failures are tested in tests/apply/test_enginelock*)."""

    def __init__(self, k: int | None = None) -> None:
        from aifo.engine.choose import connect

        engine = connect()
        assert isinstance(engine, SocketEngine), "the hot path runs over the socket here"
        self.engine = engine
        self.k = k
        self.count = 0
        self.sent: list[str] = []
        self._lock = threading.Lock()
        real = engine.wire.request

        locks: set[str] = set()  # ids of the session locks created through this engine

        def request(method: str, path: str, **kw: Any) -> Reply:
            name = str((kw.get("query") or {}).get("name", ""))
            if method == "POST" and path == "/containers/create" and name.endswith(".lock"):
                reply = real(method, path, **kw)
                locks.add(str((reply.json() or {}).get("Id", "")))
                return reply
            if method == "DELETE" and path.rpartition("/")[2] in locks:
                return real(method, path, **kw)
            if method in MUTATING_REQUESTS:
                with self._lock:
                    self.count += 1
                    n = self.count
                    self.sent.append(f"{method} {path}")
                if n == self.k:
                    message = f"injected fault at mutating request {n} ({method} {path})"
                    return Reply(500, json.dumps({"message": message}).encode())
            return real(method, path, **kw)

        engine.wire.request = request  # type: ignore[method-assign]


def pause_at(at: int, pause_s: float) -> Callable[[int, str], None]:
    def before(n: int, name: str) -> None:
        if n == at:
            print(f"aifo-test: paused at {n} ({name})", file=sys.stderr, flush=True)
            time.sleep(pause_s)

    return before


def paused_aifo(*argv: str, at: int, pause_s: float = 3600.0) -> list[str]:
    """The command line of `aifo ARGV...` pausing before its `at`-th mutating call."""
    return [sys.executable, str(Path(__file__).resolve()), str(at), str(pause_s), *argv]


def _main(argv: list[str]) -> None:
    from aifo import pipeline
    from aifo.cli import main

    at, pause_s, *args = argv
    connect = pipeline.connect

    def counted() -> Engine:
        return CountingEngine(connect(), pause_at(int(at), float(pause_s)))

    pipeline.connect = counted
    main(args)


if __name__ == "__main__":
    _main(sys.argv[1:])
