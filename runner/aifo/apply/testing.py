"""Test hooks compiled into the product, off unless an `AIFO_TEST_*` variable is set.

`AIFO_TEST_PAUSE_AT=k`: before the k-th mutating engine call, print `aifo-test: paused at k` to
stderr and sleep (`AIFO_TEST_PAUSE_S` seconds, default an hour), so a crash test can SIGKILL a
real `aifo apply` mid-transaction, or a SIGINT test interrupt it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from aifo.engine.api import Engine

MUTATING = frozenset(
    {
        "create_network",
        "remove_network",
        "connect_network",
        "disconnect_network",
        "create_volume",
        "remove_volume",
        "pull_image",
        "build_image",
        "remove_image",
        "create_container",
        "start_container",
        "start_containers",
        "stop_container",
        "stop_containers",
        "remove_container",
        "remove_containers",
        "rename_container",
        "exec_capture",
    }
)


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


def from_environment(engine: Engine) -> Engine:
    raw = os.environ.get("AIFO_TEST_PAUSE_AT", "")
    if not raw.isdigit():
        return engine
    at = int(raw)
    pause_s = float(os.environ.get("AIFO_TEST_PAUSE_S") or 3600)

    def before(n: int, name: str) -> None:
        if n == at:
            print(f"aifo-test: paused at {n} ({name})", file=sys.stderr, flush=True)
            time.sleep(pause_s)

    return cast(Engine, CountingEngine(engine, before))
