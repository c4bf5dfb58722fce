"""Streaming one routed command: the shim's FIFOs <-> the `docker exec` CLI's pipes.

One thread per command, one `poll` loop, every descriptor non-blocking, every buffer bounded:
a caller that stops reading stalls only its own command (back-pressure reaches the tool as a
full pipe, as it would locally), never the router or another command. That is the fix for the
original's weakness (blocking writes without deadlines). Deadlines: the shim's `cat`s must open
their FIFOs within OPEN_TIMEOUT_S; a signal escalates INT -> TERM -> KILL, GRACE_S apart, when the
caller is gone, the router stops or the maximum runtime is over.
"""

from __future__ import annotations

import errno
import os
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from aifo.engine.process import ExecProcess
from aifo.route.request import open_fifo

CHUNK = 1 << 16
BUFFER_LIMIT = 1 << 20
OPEN_TIMEOUT_S = 10.0
GRACE_S = 2.0  # between the escalation steps; also the last flush when stopping
ESCALATION = ("INT", "TERM", "KILL")
SIGNAL_NAMES = frozenset({"INT", "TERM", "HUP", "QUIT"})
HUP = select.POLLHUP | select.POLLERR | select.POLLNVAL


@dataclass
class Outcome:
    """How a routed command ended: its exit code and why."""

    exit_code: int
    reason: str = "exited"  # exited | signalled | caller-gone | timeout | stopped
    signals: list[str] = field(default_factory=list)


class ErrHead:
    """Holds back stderr while it may still be one of `marks` (a word from the sidecar
    wrapper or the daemon), so the router can replace it with a clear message."""

    def __init__(self, marks: tuple[bytes, ...]) -> None:
        self.marks = marks
        self.held = bytearray()
        self.matched: bytes | None = None
        self.decided = False

    def feed(self, data: bytes) -> bytes:
        if self.decided:
            if self.matched is None:
                return data
            self.held += data[: BUFFER_LIMIT - len(self.held)]
            return b""
        self.held += data
        for mark in self.marks:
            if self.held.startswith(mark):
                self.matched, self.decided = mark, True
                return b""
        if any(mark.startswith(self.held) for mark in self.marks):
            return b""
        self.decided = True
        out = bytes(self.held)
        self.held.clear()
        return out


class SignalQueue:
    """Delivers a command's signals in order on at most one thread at a time, a name queued at
    most once: an agent writing `INT` a thousand times to its `sig` FIFO starts one thread, not
    a thousand (each delivery is an exec in the sidecar)."""

    def __init__(self, deliver: Callable[[str], None]) -> None:
        self.deliver = deliver
        self.lock = threading.Lock()
        self.pending: list[str] = []
        self.running = False

    def __call__(self, name: str) -> None:
        with self.lock:
            if name in self.pending:
                return
            self.pending.append(name)
            if self.running:
                return
            self.running = True
        threading.Thread(target=self._drain, name="aifo-route-signal", daemon=True).start()

    def _drain(self) -> None:
        while True:
            with self.lock:
                if not self.pending:
                    self.running = False
                    return
                name = self.pending.pop(0)
            self.deliver(name)


class Ends(Protocol):
    """The caller's side of one command: its stdin (`in`), signals (`sig`), stdout (`out`) and
    stderr (`err`) as descriptors the pump polls, whatever carries them (FIFOs in a shared
    folder, or execs in the agent: aifo.route.execends)."""

    def open(self, name: str, flags: int) -> int:
        """A non-blocking descriptor the pump then owns until `release`; OSError(ENXIO) while
        the caller's reader of `out`/`err` is not there yet, another OSError when it is gone."""

    def watch(self) -> dict[int, str]:
        """More descriptors to poll: readable means that stream's caller may be gone."""

    def gone(self, fd: int) -> bool:
        """After `fd` of `watch()` was readable: True when its caller is gone."""

    def release(self, name: str, fd: int) -> None:
        """The pump is done with `fd` (closed, or drained by the owner)."""


class FifoEnds:
    """The shim's FIFOs in the request folder `dir_fd` (a host folder bound into the agent)."""

    def __init__(self, dir_fd: int) -> None:
        self.dir_fd = dir_fd

    def open(self, name: str, flags: int) -> int:
        return open_fifo(self.dir_fd, name, flags)

    def watch(self) -> dict[int, str]:
        return {}

    def gone(self, fd: int) -> bool:
        return False

    def release(self, name: str, fd: int) -> None:
        os.close(fd)


def _nonblocking(fd: int) -> int:
    os.set_blocking(fd, False)
    return fd


class Pump:
    """Runs one command to its end; `signal(name)` delivers a signal to it in the sidecar."""

    def __init__(
        self,
        proc: ExecProcess,
        ends: Ends,
        stop_fd: int,
        signal: Callable[[str], None],
        *,
        max_runtime_s: float | None = None,
        err_marks: tuple[bytes, ...] = (),
        watch: Callable[[bytes], None] | None = None,
    ) -> None:
        assert proc.stdin and proc.stdout and proc.stderr
        self.proc, self.ends, self.stop_fd, self.signal = proc, ends, stop_fd, signal
        self.started = time.monotonic()
        self.deadline = None if max_runtime_s is None else self.started + max_runtime_s
        self.p_in: int | None = _nonblocking(proc.stdin.fileno())
        self.p_out: int | None = _nonblocking(proc.stdout.fileno())
        self.p_err: int | None = _nonblocking(proc.stderr.fileno())
        self.in_fd: int | None = ends.open("in", os.O_RDONLY)
        try:
            self.sig_fd: int | None = ends.open("sig", os.O_RDWR)
        except BaseException:
            ends.release("in", self.in_fd)
            raise
        self.out_fd: int | None = None
        self.err_fd: int | None = None
        self.to_proc = bytearray()
        self.to_out = bytearray()
        self.to_err = bytearray()
        self.head = ErrHead(err_marks)
        self.watch = watch  # sees every chunk of the command's output (aifo.route.hints)
        self.gone = False  # the caller (the shim's readers) is gone
        self.stopping: float | None = None  # when the router began to stop
        self.escalate_at: float | None = None
        self.step = 0
        self.outcome = Outcome(0)

    # -- escalation -------------------------------------------------------------------------
    def _escalate(self, reason: str) -> None:
        if self.escalate_at is None and self.proc.poll() is None:
            self.outcome.reason = reason
            self.escalate_at = time.monotonic()

    def _tick(self, now: float) -> float | None:
        """Send what is due; the next time something is due."""
        if self.deadline is not None and now >= self.deadline:
            self.deadline = None
            self._escalate("timeout")
        if self.escalate_at is not None and self.proc.poll() is None:
            while self.step < len(ESCALATION) and now >= self.escalate_at + self.step * GRACE_S:
                self._send(ESCALATION[self.step])
                self.step += 1
            if self.step < len(ESCALATION):
                return self.escalate_at + self.step * GRACE_S
        return self.deadline

    def _send(self, name: str) -> None:
        self.outcome.signals.append(name)
        self.signal(name)

    # -- descriptors ------------------------------------------------------------------------
    def _close(self, name: str) -> None:
        fd = getattr(self, name)
        if fd is None:
            return
        setattr(self, name, None)
        # The CLI's pipes belong to their Popen file objects: close through them, once.
        owner = {"p_in": self.proc.stdin, "p_out": self.proc.stdout, "p_err": self.proc.stderr}
        try:
            if name in owner and owner[name] is not None:
                owner[name].close()  # type: ignore[union-attr]
            elif name in owner:
                os.close(fd)
            else:
                self.ends.release(name.removesuffix("_fd"), fd)
        except OSError:
            pass

    def _open_outputs(self, now: float) -> bool:
        """Open the FIFOs the shim reads (ENXIO until its `cat`s are there); True when open."""
        for name, fifo in (("out_fd", "out"), ("err_fd", "err")):
            if getattr(self, name) is None and not self.gone:
                try:
                    setattr(self, name, self.ends.open(fifo, os.O_WRONLY))
                except OSError as exc:
                    if exc.errno != errno.ENXIO or now > self.started + OPEN_TIMEOUT_S:
                        self._caller_gone()
        return self.gone or (self.out_fd is not None and self.err_fd is not None)

    def _caller_gone(self) -> None:
        self.gone = True
        self.to_out.clear()
        self.to_err.clear()
        self._close("out_fd")
        self._close("err_fd")
        self._escalate("caller-gone")

    def _flush(self, fd_name: str, buf: bytearray) -> None:
        fd = getattr(self, fd_name)
        if fd is None or not buf:
            return
        try:
            n = os.write(fd, buf[:CHUNK])
            del buf[:n]
        except BlockingIOError:
            pass
        except OSError:  # EPIPE: the reader went away
            self._caller_gone()

    def _read(self, fd_name: str) -> bytes | None:
        fd = getattr(self, fd_name)
        try:
            data = os.read(fd, CHUNK)
        except BlockingIOError:
            return None
        except OSError:
            data = b""
        if not data:
            self._close(fd_name)
        return data

    # -- the loop ---------------------------------------------------------------------------
    def done(self) -> bool:
        if self.p_out is not None or self.p_err is not None:
            return False
        return self.gone or not (self.to_out or self.to_err or self.head.held)

    def run(self, finish: Callable[[bytes | None, bytes, int], bytes]) -> Outcome:
        """Stream until the command ends and its output is delivered. `finish(mark, held,
        code)` turns held-back stderr into what the caller sees."""
        code: int | None = None
        finished = False
        while True:
            now = time.monotonic()
            ready = self._open_outputs(now)
            due = self._tick(now)
            if self.p_out is None and self.p_err is None and not finished:
                code = self._wait()
                held = bytes(self.head.held)
                self.head.held.clear()
                if not self.gone:
                    self.to_err += finish(self.head.matched, held, code)
                finished = True
            if finished and self.done():
                break
            if self.stopping is not None and now > self.stopping + GRACE_S and not self.gone:
                self._caller_gone()  # the router is going: output nobody reads is dropped
                continue
            fds = self._interest(ready)
            timeout = 5.0 if ready else 0.005
            if due is not None:
                timeout = min(timeout, max(0.0, due - now))
            poller = select.poll()
            for fd, mask in fds.items():
                poller.register(fd, mask)
            for fd, mask in poller.poll(timeout * 1000):
                self._event(fd, mask)
        self.outcome.exit_code = code if code is not None else 1
        return self.outcome

    def _interest(self, ready: bool) -> dict[int, int]:
        fds: dict[int, int] = {fd: select.POLLIN for fd in self.ends.watch()}
        if self.sig_fd is not None:
            fds[self.sig_fd] = select.POLLIN
        if self.stopping is None:
            fds[self.stop_fd] = select.POLLIN
        if self.in_fd is not None and len(self.to_proc) < BUFFER_LIMIT:
            fds[self.in_fd] = select.POLLIN
        if self.p_in is not None and self.to_proc:
            fds[self.p_in] = select.POLLOUT
        if ready:
            for name, buf in (("p_out", self.to_out), ("p_err", self.to_err)):
                fd = getattr(self, name)
                if fd is not None and (self.gone or len(buf) < BUFFER_LIMIT):
                    fds[fd] = select.POLLIN
        for name, buf in (("out_fd", self.to_out), ("err_fd", self.to_err)):
            fd = getattr(self, name)
            if fd is not None:  # POLLERR (reader gone) is reported even with no events asked
                fds[fd] = select.POLLOUT if buf else 0
        return fds

    def _event(self, fd: int, mask: int) -> None:
        if fd == self.stop_fd:
            self.stopping = time.monotonic()
            self._escalate("stopped")
        elif fd == self.sig_fd:
            self._signals()
        elif fd in self.ends.watch():
            if self.ends.gone(fd):
                self._caller_gone()
        elif fd == self.in_fd:
            data = self._read("in_fd")
            if data:
                self.to_proc += data
        elif fd == self.p_in:
            self._feed_proc()
        elif fd == self.p_out:
            data = self._read("p_out")
            if data and self.watch is not None:
                self.watch(data)
            if data and not self.gone:
                self.to_out += data
        elif fd == self.p_err:
            data = self._read("p_err")
            if data and self.watch is not None:
                self.watch(data)
            if data and not self.gone:
                self.to_err += self.head.feed(data)
        elif fd in (self.out_fd, self.err_fd):
            if mask & select.POLLERR:
                self._caller_gone()
            else:
                self._flush("out_fd" if fd == self.out_fd else "err_fd",
                            self.to_out if fd == self.out_fd else self.to_err)  # fmt: skip
        if self.in_fd is None and not self.to_proc:
            self._close("p_in")  # the caller's stdin ended: end the tool's

    def _feed_proc(self) -> None:
        if self.p_in is None:
            return
        try:
            n = os.write(self.p_in, self.to_proc[:CHUNK])
            del self.to_proc[:n]
        except BlockingIOError:
            pass
        except OSError:  # the tool closed its stdin: drop what it will never read
            self.to_proc.clear()
            self._close("p_in")
            self._close("in_fd")

    def _signals(self) -> None:
        if self.sig_fd is None:
            return
        try:
            data = os.read(self.sig_fd, 512)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # an exec carrying them ended (a FIFO opened read-write never ends)
            self._close("sig_fd")
            return
        for word in data.decode(errors="replace").split():
            if word in SIGNAL_NAMES and self.proc.poll() is None:
                self.outcome.reason = "signalled"
                self._send(word)

    def _wait(self) -> int:
        code = self.proc.wait(timeout=30)
        if code is None:
            self.proc.kill()
            code = self.proc.wait()
        code = 1 if code is None else code
        return code if code >= 0 else 128 - code

    def close(self) -> None:
        for name in ("in_fd", "out_fd", "err_fd", "sig_fd", "p_in", "p_out", "p_err"):
            self._close(name)
