"""Progress of an apply/destroy/recovery in plain lines, one per finished step: what is shown
off a terminal (a pipe, a file, CI), without importing rich (~20 ms of a cold apply's start-up).
On a terminal `aifo.ui.progress.Progress` shows a live table instead. `stderr_progress()` picks.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import AbstractContextManager
from types import TracebackType
from typing import IO

from aifo.apply.events import Emit, Event

VERB = {
    "create_network": "create network",
    "disconnect_network": "disconnect from the old network",
    "connect_network": "connect to network",
    "remove_network": "remove the old network",
    "create_volume": "create volume",
    "pull_image": "pull image",
    "build_image": "build image",
    "create_container": "create container",
    "stop_container": "stop old container",
    "start_containers": "start",
    "stop_containers": "stop",
    "hook": "run hook",
    "wait": "wait until ready",
}


# What undo and commit steps did, in the user's words (the journal's op names are internal).
_UNDONE = {
    "all": "undone",
    "discard_containers": "removed the container(s) this apply created",
    "discard_network": "removed the network this apply created",
    "discard_volume": "removed the volume this apply created",
    "restore_running": "put the old container back as it was",
    "restore_network": "created the old network again as it was",
    "connect_network": "reconnected the container",
    "disconnect_network": "disconnected the container",
    "remove_containers": "removed",
    "rename_container": "renamed the replacement to its name",
    "remove_network": "removed the network",
    "remove_volume": "removed the volume",
}


def undone(op: str | None) -> str:
    return _UNDONE.get(op or "", (op or "").replace("_", " "))


def _verb(op: str, data: dict[str, object]) -> str:
    if op == "wait":
        until = data.get("until")
        return f"wait until {'running' if until == 'started' else until}"
    return VERB.get(op, op)


def describe(event: Event) -> str:
    name = f" {event.docker_name}" if event.docker_name else ""
    verb = _verb(event.op or "", event.data)
    return f"{event.id}: {verb}{name}".strip()


def plain_line(event: Event) -> str | None:
    """One line per finished step and per rollback/commit milestone; None to skip."""
    took = f" ({event.duration_s:.2f}s)" if event.duration_s is not None else ""
    if event.event == "action.done":
        return f"ok      {describe(event)}{took}"
    if event.event == "action.progress":
        return f"        {event.id}: {event.message}"
    if event.event == "action.failed":
        return f"FAILED  {describe(event)}: {event.message}"
    if event.event == "rollback.start":
        return "rolling back..."
    if event.event == "undo.done":
        return f"undone  {event.id}: {undone(event.op)}"
    if event.event == "undo.failed":
        return f"UNDO FAILED {event.id or ''}: {undone(event.op)}: {event.message}"
    if event.event == "commit.done":
        target = (event.message or "").partition(" ")[2]
        return f"done    {undone(event.op)} {target}".rstrip()
    if event.event == "remove.done":
        return f"removed {event.kind} {event.docker_name}"
    if event.event in ("recover.start", "recover.done", "note"):
        return event.message
    # apply.done: the command prints the one closing line (or the error), not this
    return None


def is_terminal(stream: IO[str]) -> bool:
    """Whether rich would treat `stream` as a terminal: its `TTY_COMPATIBLE` and `FORCE_COLOR`
    rules, else `isatty()`."""
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "1"
    force = os.environ.get("FORCE_COLOR")
    if force is not None:
        return force != ""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed
        return False


class Lines:
    """Plain progress lines on stderr; an `Emit`, safe to call from worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> Lines:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def __call__(self, event: Event) -> None:
        line = plain_line(event)
        if line:
            with self._lock:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()


def stderr_progress() -> AbstractContextManager[Emit]:
    """Progress on stderr: rich's live table on a terminal, else plain lines (rich not loaded)."""
    if not is_terminal(sys.stderr):
        return Lines()
    from rich.console import Console

    from aifo.ui.progress import Progress

    return Progress(Console(stderr=True))
