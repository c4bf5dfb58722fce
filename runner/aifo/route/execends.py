"""One routed command's stdio through execs of the agent's own container (the exec transport).

The shim's FIFOs live in a tmpfs inside the agent; only the agent's engine reaches them. Four
workers (aifo.route.workers: execs run as the agent's user, started ahead) carry them:

- `in`: the caller's stdin (`in`), in frames a deframer thread here turns back into bytes for
  the pump (a local pipe); the frame of size 0 is the caller's end of input. Past IN_FRAMED
  bytes it says `R` and sends the rest unframed, to its exec's end. (A stream of an exec has no
  end of its own: only the exec's end, or a frame, says no more is coming.)
- `up`: its stdout is the signal words from `sig`; its stdin takes the exit code at the end,
  which it writes to `exit` before it ends.
- `out`, `err`: each opens its FIFO for writing (which waits for the shim's reader), says `R`,
  then copies into it what a framer thread here sends it (the pump writes a local pipe; the
  framer sends each chunk as a line with its size and the bytes, then a frame of size 0 at the
  end). It says `=` once the FIFO is closed (it can serve again), `G` (or ends) when the
  caller's reader is gone.

Everything read here is bounded by the pump (aifo.route.pump) and treated as the agent's.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import threading
import time
from collections.abc import Callable
from typing import IO

from aifo.engine.process import ExecProcess

EXIT_WAIT_S = 10.0  # for `up` to write the exit code
FLUSH_WAIT_S = 30.0  # for `out`/`err` to hand their last bytes to a reader that is slow
ROLES = ("in", "up", "out", "err")
FRAME = 1 << 20  # at most this much per frame (one `dd` in the agent each)
IN_WAIT_S = 2.0  # for `in` to see the caller's end once the command is done


def _drain(stream: IO[bytes]) -> None:
    """Read and drop `stream` until it ends (its exec's other stream must not stall)."""
    try:
        fd = stream.fileno()
        os.set_blocking(fd, True)
        while os.read(fd, 1 << 16):
            pass
    except (OSError, ValueError):
        pass


def _said(stream: IO[bytes], deadline: float) -> bytes:
    """What `stream` says until `=` or `G`, its end, or `deadline` (the last 64 bytes)."""
    seen = b""
    try:
        fd = stream.fileno()
        os.set_blocking(fd, False)
        while select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                continue
            if not data:
                break
            seen = (seen + data)[-64:]
            if seen.endswith(b"=") or b"G" in seen:  # (after `G` its end waits for its stdin's)
                break
    except (OSError, ValueError):
        pass
    return seen


def _frame(src: int, dst: IO[bytes]) -> None:
    """Send what the pump writes to `src`'s pipe to a worker's stdin in frames (a line with
    the size, then the bytes), then a frame of size 0 at its end. Blocking: a worker that does
    not take them back-pressures the pump. When the worker is gone, `src` closes (the pump's
    next write fails: the caller is gone)."""
    try:
        while True:
            data = os.read(src, FRAME)
            _send(dst, b"%d\n" % len(data))
            if not data:
                return
            _send(dst, data)
    except (OSError, ValueError):
        pass
    finally:
        os.close(src)


def _deframe(src: IO[bytes], dst: int, said: list[bytes]) -> None:
    """The caller's stdin from `in`'s frames to `dst` (the pump's pipe, closed at the end).
    When the pump is done with it (`dst` broken), the rest is read and dropped: the worker must
    not stall. `said` gets b"0" after a whole frame of size 0 (the worker serves again)."""
    fd = src.fileno()
    os.set_blocking(fd, True)
    buf = bytearray()
    raw = False

    def more() -> bool:
        data = os.read(fd, 1 << 16)
        buf.extend(data)
        return bool(data)

    def give(data: bytes) -> None:
        nonlocal dst
        if dst >= 0:
            try:
                _write_all(dst, data)
            except OSError:  # the pump is done with stdin: drop the rest
                os.close(dst)
                dst = -1

    try:
        while True:
            if raw:
                give(bytes(buf))
                buf.clear()
                if not more():
                    return
                continue
            end = buf.find(b"\n")
            if end < 0:
                if len(buf) > 16 or not more():
                    return  # not a frame: the worker is dropped
                continue
            head = bytes(buf[:end])
            del buf[: end + 1]
            if head == b"R":
                raw = True
                continue
            if not head.isdigit() or len(head) > 5 or int(head) > 1 << 16:
                return
            size = int(head)
            if size == 0:
                if not buf:
                    said.append(b"0")
                return
            while len(buf) < size:
                if not more():
                    return
            give(bytes(buf[:size]))
            del buf[:size]
    except (OSError, ValueError):
        pass
    finally:
        if dst >= 0:
            os.close(dst)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _send(dst: IO[bytes], data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[dst.write(view) or 0 :]


class ExecEnds:
    """The pump's `Ends` (aifo.route.pump) for request `name` in the agent."""

    def __init__(
        self,
        worker: Callable[[bytes], ExecProcess],
        put: Callable[[ExecProcess], None],
        name: str,
    ) -> None:
        """`worker(line)`: a worker given its role (aifo.route.workers.Pool.get); `put`: one
        that can serve again (`up`, once it said the code is written)."""
        self.put = put
        self.reusable: set[str] = set()  # workers that said `=` and nothing after it
        self.framers: dict[str, threading.Thread] = {}
        self.lost: set[str] = set()  # `out`/`err` whose caller's reader is gone
        self.heard: dict[str, bytes] = {}  # what `gone` read of `out`/`err` (its last bytes)
        self.procs: dict[str, ExecProcess] = {}
        self.opened: set[str] = set()  # `out`/`err` whose stdin we hold (closing it ends them)
        try:
            for role in ROLES:
                self.procs[role] = worker(f"{role} {name}\n".encode())
        except BaseException:
            self.close(flush=False)
            raise
        self.in_said: list[bytes] = []
        self.ready: dict[int, str] = {}  # the stdout of `out`/`err` after their `R`
        self.drained: set[str] = set()
        self.lock = threading.Lock()

    def _stream(self, name: str, which: str) -> IO[bytes]:
        stream = getattr(self.procs[name], which)
        assert stream is not None
        return stream  # type: ignore[no-any-return]

    def open(self, name: str, flags: int) -> int:
        if name == "in":
            fd, dst = os.pipe2(os.O_CLOEXEC)
            os.set_blocking(fd, False)
            deframer = threading.Thread(
                target=_deframe, args=(self._stream("in", "stdout"), dst, self.in_said),
                name="aifo-route-deframe", daemon=True,
            )  # fmt: skip
            deframer.start()
            self.framers["in"] = deframer
            return fd
        if name == "sig":
            fd = os.dup(self._stream("up", "stdout").fileno())
            os.set_blocking(fd, False)
            return fd
        said = self._stream(name, "stdout")
        os.set_blocking(said.fileno(), False)
        try:
            data = os.read(said.fileno(), 1)
        except BlockingIOError:
            raise OSError(errno.ENXIO, "no reader yet") from None
        if not data:  # it ended before it could open the FIFO: the caller went
            raise OSError(errno.EPIPE, "the caller's reader is gone")
        src, fd = os.pipe2(os.O_CLOEXEC)
        try:  # fewer, bigger frames: fewer `dd`s in the agent
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, FRAME)
        except OSError:
            pass
        os.set_blocking(fd, False)
        framer = threading.Thread(
            target=_frame, args=(src, self._stream(name, "stdin")), name="aifo-route-frame",
            daemon=True,
        )  # fmt: skip
        framer.start()
        self.framers[name] = framer
        self.ready[said.fileno()] = name
        self.opened.add(name)
        return fd

    def watch(self) -> dict[int, str]:
        return dict(self.ready)

    def gone(self, fd: int) -> bool:
        try:
            data = os.read(fd, 512)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        name = self.ready.get(fd, "")
        self.heard[name] = (self.heard.get(name, b"") + data)[-64:]  # `=` may come early
        if data and b"G" not in data:
            return False
        self.lost.add(self.ready.pop(fd, ""))
        return True

    def release(self, name: str, fd: int) -> None:
        os.close(fd)  # `in`: its deframer drops the rest from now on
        if name == "sig":  # its exec must not stall on a full pipe: it has to end
            self._drain("up", "stdout")

    def _drain(self, proc: str, which: str) -> None:
        with self.lock:
            if f"{proc}.{which}" in self.drained:
                return
            self.drained.add(f"{proc}.{which}")
        stream = self._stream(proc, which)
        threading.Thread(
            target=_drain, args=(stream,), name="aifo-route-drain", daemon=True
        ).start()

    def write_exit(self, code: int) -> bool:
        """Hand `up` the exit code and wait until it has written it (True) or gave up."""
        with self.lock:  # the pump is done with `sig`: we read `up` to its end ourselves
            self.drained.add("up.stdout")
        up = self.procs["up"]
        try:
            assert up.stdin is not None
            up.stdin.write(f"{code}\n".encode())  # left open: the worker waits for another line
        except OSError:
            return False
        # Its `=` says the code is written (its end would say so too, but much later: the
        # engine sees an exec end only once its process is reaped). Signal words may precede it.
        said = self._stream("up", "stdout").fileno()
        deadline = time.monotonic() + EXIT_WAIT_S
        seen = b""
        while select.select([said], [], [], max(0.0, deadline - time.monotonic()))[0]:
            try:
                data = os.read(said, 1 << 16)
            except BlockingIOError:
                continue
            except OSError:
                return True
            if not data:
                return True
            seen = (seen + data)[-64:]
            if b"\n=\n" in b"\n" + seen:
                if seen.endswith(b"=\n") and self.procs["up"].poll() is None:
                    self.reusable.add("up")
                return True
        return False

    def close(self, *, flush: bool = True) -> None:
        """End the execs; `out` and `err` first hand over what they hold (bounded)."""
        deadline = time.monotonic() + FLUSH_WAIT_S
        for name, proc in self.procs.items():
            if flush and name == "in" and "in" in self.framers:  # the caller's end, soon after
                self.framers["in"].join(IN_WAIT_S)  # the shim's end: it stops its copier
                if self.in_said == [b"0"] and not self.framers["in"].is_alive():
                    self.reusable.add("in")
            if flush and name in self.opened and name not in self.lost:
                # Its `=`: every byte is in the FIFO, closed. (Not the framer's end first: it
                # blocks for good on a worker that ended, until the kill below drops it.)
                said = self.heard.get(name, b"")
                if not said.endswith(b"=") and b"G" not in said:
                    said += _said(self._stream(name, "stdout"), deadline)
                if said.endswith(b"=") and b"G" not in said:
                    self.framers[name].join(max(0.0, deadline - time.monotonic()))
                    if not self.framers[name].is_alive():
                        self.reusable.add(name)
            if name in self.reusable and proc.poll() is None:
                self.put(proc)
            else:
                proc.kill()
