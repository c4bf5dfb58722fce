"""Signals sent to `aifo exec`/`run`/`shell` reach the process they started in the container.

`docker exec` forwards no signal (with or without a TTY), and killing the CLI leaves the process
running in the container. So the exec carries a random marker variable, and each SIGINT,
SIGTERM, SIGHUP or SIGQUIT we receive is delivered to every process in the container that
carries it (aifo.engine's `signal_marked`). After a TERM or HUP the process gets KILL_AFTER_S
to end before it is killed. Without a TTY, the CLI runs in its own process group when stdin is
not a terminal, so a terminal's Ctrl-C reaches only us, and the CLI keeps streaming the output
the process writes while it shuts down.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from types import FrameType

TYPE_CHECKING = False  # not typing's: `aifo exec`'s fast path does not load typing (mypy knows)
if TYPE_CHECKING:
    from typing import Protocol

    from aifo.engine.process import ExecProcess

    class Execs(Protocol):
        """The two calls of aifo.engine.api.Engine a run makes."""

        def exec_start(
            self,
            ref: str,
            argv: Sequence[str],
            *,
            user: str | None = None,
            workdir: str | None = None,
            env: Mapping[str, str] | None = None,
            tty: bool = False,
            interactive: bool = False,
            own_group: bool = False,
        ) -> ExecProcess: ...

        def signal_marked(
            self, ref: str, marker: str, signal: str, *, user: str | None = None
        ) -> int: ...


EXEC_MARKER = "AIFO_EXEC_ID"  # marks what `aifo exec/run/shell` started in the container
KILL_AFTER_S = 10.0
FORWARDED = {
    signal.SIGINT: "INT",
    signal.SIGTERM: "TERM",
    signal.SIGHUP: "HUP",
    signal.SIGQUIT: "QUIT",
}


def new_marker() -> str:
    return os.urandom(8).hex()


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


def run(
    engine: Execs,
    ref: str,
    argv: Sequence[str],
    *,
    user: str | None,
    workdir: str | None,
    env: Mapping[str, str],
    tty: bool,
    interactive: bool,
    marker: str,
) -> int:
    """Exec `argv` attached to our stdio, delivering our signals into it; its exit code."""
    sys.stdout.flush()  # what we printed comes first: the exec may write to fds 1 and 2 directly
    sys.stderr.flush()
    proc = engine.exec_start(
        ref, list(argv), user=user, workdir=workdir, env={**env, EXEC_MARKER: marker},
        tty=tty, interactive=interactive, own_group=not tty and not _stdin_is_tty(),
    )  # fmt: skip
    tag = f"{EXEC_MARKER}={marker}"
    deadline = threading.Event()

    def deliver(name: str) -> None:
        try:
            engine.signal_marked(ref, tag, name, user=user)
        except Exception:  # noqa: BLE001 - best effort: the process may be gone already
            return
        if name in ("TERM", "HUP") and not deadline.wait(KILL_AFTER_S) and proc.poll() is None:
            engine.signal_marked(ref, tag, "KILL", user=user)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        name = FORWARDED.get(signal.Signals(signum))
        if name and proc.poll() is None:
            threading.Thread(target=deliver, args=(name,), daemon=True).start()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, on_signal) for s in FORWARDED}
    try:
        while True:
            try:
                code = proc.wait()
                if code is not None:
                    break
            except KeyboardInterrupt:  # a handler we could not replace (not the main thread)
                continue
        if getattr(proc, "reader_gone", False):  # `aifo exec … | head`: as a local pipeline
            deliver("PIPE")
    finally:
        deadline.set()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return code if code >= 0 else 128 - code
