"""An exec at our terminal over the Engine API socket, as `docker exec -it` does it, without a
`docker` process: our terminal in raw mode while the exec runs (keys, Ctrl-C included, go to the
container's terminal as bytes), its size sent at the start and again on every SIGWINCH, and the
terminal's modes restored when the stream ends, whatever ended it.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Mapping, Sequence
from types import FrameType

from aifo.engine import hijack
from aifo.engine.wire import Wire
from aifo.errors import EngineError

TYPE_CHECKING = False  # not typing's: `aifo exec`'s fast path does not load typing (mypy knows)
if TYPE_CHECKING:
    from typing import Any

DEFAULT_SIZE = (24, 80)


def size(fd: int = 1) -> tuple[int, int]:
    """(rows, columns) of the terminal on `fd`; the usual 24x80 when it has none."""
    try:
        cols, rows = os.get_terminal_size(fd)
    except OSError:
        return DEFAULT_SIZE
    return (rows, cols) if rows and cols else DEFAULT_SIZE


class _Raw:
    """`fd`'s terminal in raw mode until `restore` (idempotent)."""

    def __init__(self, fd: int) -> None:
        import termios
        import tty

        self.fd = fd
        self.saved: list[Any] | None = termios.tcgetattr(fd)
        tty.setraw(fd, termios.TCSANOW)

    def restore(self) -> None:
        import termios

        saved, self.saved = self.saved, None
        if saved is not None:
            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, saved)
            except termios.error:
                pass  # the terminal went away


def attached(
    wire: Wire,
    ref: str,
    argv: Sequence[str],
    *,
    user: str | None,
    workdir: str | None,
    env: Mapping[str, str],
    tty: bool,
    interactive: bool,
) -> hijack.ApiExecProcess:
    """An exec attached to our own stdio: at our terminal (`tty`: a terminal of its size there,
    ours raw meanwhile), else on plain streams (stdout and stderr kept apart)."""
    if not tty:
        return hijack.start(
            wire, ref, argv, user=user, workdir=workdir, env=env, stdio=True,
            interactive=interactive,
        )  # fmt: skip
    raw = _Raw(0) if interactive and os.isatty(0) else None
    try:
        proc = hijack.start(
            wire, ref, argv, user=user, workdir=workdir, env=env, size=size(),
            stdio=True, interactive=interactive,
        )  # fmt: skip
    except BaseException:
        if raw is not None:
            raw.restore()
        raise
    if raw is not None:
        proc.on_done.append(raw.restore)
    _follow_resizes(wire, proc)
    return proc


def _follow_resizes(wire: Wire, proc: hijack.ApiExecProcess) -> None:
    """Send our size to the exec on every SIGWINCH, until it ends (main thread only: elsewhere
    the size stays the one it started with)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def resize() -> None:
        rows, cols = size()
        try:
            wire.request(
                "POST", f"/exec/{proc.exec_id}/resize", query={"h": rows, "w": cols}, timeout_s=10
            )
        except EngineError:
            pass  # the exec has ended

    def on_winch(_signum: int, _frame: FrameType | None) -> None:
        if not proc.done.is_set():
            threading.Thread(target=resize, daemon=True).start()

    previous = signal.signal(signal.SIGWINCH, on_winch)

    def put_back() -> None:
        try:
            signal.signal(signal.SIGWINCH, previous)
        except ValueError:
            pass  # ended on another thread: the handler stays, and does nothing once done

    proc.on_done.append(put_back)
