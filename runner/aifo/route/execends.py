"""One routed command's stdio through execs of the agent's own container (the exec transport).

The shim's FIFOs live in a tmpfs inside the agent; only the agent's engine reaches them. Four
execs, run as the agent's user (they can do nothing the agent could not do itself), carry them:

- `in`: its stdout is the caller's stdin (`dd <in`); it ends at the caller's end of input. (A
  stream of an exec has no end of its own: only the exec's end says no more is coming, so the
  caller's stdin cannot share an exec with anything that lives longer.)
- `up`: its stdout is the signal words from `sig` (opened read-write: no end-of-file between
  signals); its stdin takes the exit code at the end, which it writes to `exit`, then it stops
  the signal reader, unblocks an `in` still waiting for its writer, and ends.
- `out`, `err`: each opens its FIFO for writing (which waits for the shim's reader), says `R`,
  then copies its stdin into it with `dd`. When it ends before we close its stdin, the caller's
  reader is gone.

Everything read here is bounded by the pump (aifo.route.pump) and treated as the agent's.
"""

from __future__ import annotations

import errno
import os
import select
import threading
import time
from collections.abc import Mapping
from typing import IO

from aifo.engine.api import Engine
from aifo.engine.process import ExecProcess

IN = 'exec dd bs=65536 <"$1/in" 2>/dev/null'
UP = r"""d=$1
{ exec 4<>"$d/sig"; while read -r w <&4; do printf '%s\n' "$w"; done; } </dev/null & s=$!
read -r c || c=
kill $s 2>/dev/null
case $c in ''|*[!0-9]*) exit 0;; esac
printf '%s\n' "$c" >"$d/exit"
: <>"$d/in"
"""
# `dd` is not exec'd: the shell keeps our stdout open until the copy ends.
DOWN = 'exec 3>"$1/$2" || exit 1; printf R; dd bs=65536 >&3 2>/dev/null'
EXIT_WAIT_S = 10.0  # for `up` to write the exit code
FLUSH_WAIT_S = 30.0  # for `out`/`err` to hand their last bytes to a reader that is slow


def start(engine: Engine, ref: str, argv: list[str], user: str | None,
          env: Mapping[str, str]) -> ExecProcess:  # fmt: skip
    """An exec in the agent with our pipes on its stdin, stdout and stderr."""
    return engine.exec_start(
        ref, argv, user=user, env=env, interactive=True, pipes=True, own_group=True
    )


def run_bounded(
    proc: ExecProcess, *, limit: int, timeout_s: float, stdin: bytes = b""
) -> tuple[int | None, bytes, bytes]:
    """Feed `stdin`, then read the exec's stdout (at most `limit` bytes: then it is stopped)
    and stderr (at most 4 KiB) until it ends or `timeout_s` passes: (exit code or None, out,
    err). The exec is always ended (its connection dropped) on return."""
    assert proc.stdin and proc.stdout and proc.stderr
    deadline = time.monotonic() + timeout_s
    out, err = bytearray(), bytearray()
    try:
        try:
            if stdin:
                proc.stdin.write(stdin)
            proc.stdin.close()
        except OSError:
            pass
        fds = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
        for fd in fds:
            os.set_blocking(fd, False)
        while fds and len(out) <= limit:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, bytes(out), bytes(err)
            ready, _, _ = select.select(list(fds), [], [], left)
            for fd in ready:
                try:
                    data = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    del fds[fd]
                elif fd == proc.stdout.fileno():
                    out += data
                elif len(err) < 4096:
                    err += data[: 4096 - len(err)]
        if len(out) > limit:
            return None, bytes(out[: limit + 1]), bytes(err)
        return proc.wait(max(0.0, deadline - time.monotonic())), bytes(out), bytes(err)
    finally:
        proc.kill()


def _drain(stream: IO[bytes]) -> None:
    """Read and drop `stream` until it ends (its exec's other stream must not stall)."""
    try:
        fd = stream.fileno()
        os.set_blocking(fd, True)
        while os.read(fd, 1 << 16):
            pass
    except (OSError, ValueError):
        pass


class ExecEnds:
    """The pump's `Ends` (aifo.route.pump) for request folder `folder` in the agent `ref`."""

    def __init__(
        self, engine: Engine, ref: str, folder: str, user: str | None, env: Mapping[str, str]
    ) -> None:
        self.procs: dict[str, ExecProcess] = {}
        self.opened: set[str] = set()  # `out`/`err` whose stdin we hold (closing it ends them)
        try:
            for name, script in (("in", IN), ("up", UP)):
                argv = ["sh", "-c", script, f"aifo-{name}", folder]
                self.procs[name] = start(engine, ref, argv, user, env)
            for name in ("out", "err"):
                argv = ["sh", "-c", DOWN, f"aifo-{name}", folder, name]
                self.procs[name] = start(engine, ref, argv, user, env)
        except BaseException:
            self.close(flush=False)
            raise
        self.ready: dict[int, str] = {}  # the stdout of `out`/`err` after their `R`
        self.drained: set[str] = set()
        self.lock = threading.Lock()

    def _stream(self, name: str, which: str) -> IO[bytes]:
        stream = getattr(self.procs[name], which)
        assert stream is not None
        return stream  # type: ignore[no-any-return]

    def open(self, name: str, flags: int) -> int:
        if name in ("in", "sig"):
            fd = os.dup(self._stream("in" if name == "in" else "up", "stdout").fileno())
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
        stdin = self._stream(name, "stdin")
        fd = os.dup(stdin.fileno())
        stdin.close()  # ours is now the only writer: closing it ends the copy
        os.set_blocking(fd, False)
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
        if data:
            return False
        self.ready.pop(fd, None)
        return True

    def release(self, name: str, fd: int) -> None:
        os.close(fd)
        if name in ("in", "sig"):  # its exec must not stall on a full pipe: it has to end
            self._drain("in" if name == "in" else "up", "stdout")

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
        self._drain("in", "stdout")
        with self.lock:  # the pump is done with `sig`: we read `up` to its end ourselves
            self.drained.add("up.stdout")
        up = self.procs["up"]
        try:
            assert up.stdin is not None
            up.stdin.write(f"{code}\n".encode())
            up.stdin.close()
        except OSError:
            return False
        # Its stream's end is its end (the exit code's lookup after it would cost a request).
        said = self._stream("up", "stdout").fileno()
        deadline = time.monotonic() + EXIT_WAIT_S
        while select.select([said], [], [], max(0.0, deadline - time.monotonic()))[0]:
            try:
                if not os.read(said, 1 << 16):
                    return True
            except BlockingIOError:
                continue
            except OSError:
                return True
        return False

    def close(self, *, flush: bool = True) -> None:
        """End the execs; `out` and `err` first hand over what they hold (bounded)."""
        deadline = time.monotonic() + FLUSH_WAIT_S
        for name, proc in self.procs.items():
            if flush and name in self.opened:
                proc.wait(max(0.0, deadline - time.monotonic()))
            proc.kill()
