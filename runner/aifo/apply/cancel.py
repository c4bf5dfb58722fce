"""SIGINT/SIGTERM during apply: set a flag. In-flight engine calls finish, then rollback starts.

Never kills a docker subprocess mid-call: a half-done `docker create` is harder to undo than a
finished one.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from aifo.apply.events import Notify


@contextmanager
def cancel_on_signals(*events: threading.Event, notify: Notify | None = None) -> Iterator[None]:
    """SIGINT/SIGTERM set every event (a running apply rolls back, a watch stops). The handlers
    are installed for the duration of the block, in the main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if notify is not None and not all(e.is_set() for e in events):
            notify(f"{signal.Signals(signum).name}: stopping after the running steps, rolling back")
        for event in events:
            event.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """For forward-only work (destroy): SIGTERM unwinds like Ctrl-C, so `finally` blocks and the
    session lock's release run and the user gets the "run it again" message instead of a bare
    kill. Main thread only; elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
