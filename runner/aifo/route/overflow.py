"""What the router's bounded workers cannot take: refused cheaply, and audited once per burst.

An agent can send requests faster than they run. Its routers together serve at most `limit +
MAX_WAITING` at once (one thread each); the excess is refused here, by one thread for all of
them: the request is marked taken, its caller gets `aifo: too many routed commands waiting` and
exit 126 once its copiers are there (or after OPEN_TIMEOUT_S), and nothing of it is read. At most
MAX_PENDING refusals are in flight; beyond that a request is left untaken, and the shim's own
watchdog fails it (126) after 10 s. Refusals and malformed control messages are counted, and
one `route` record per burst (a quiet second ends it) says how many and why: a flood cannot
fill the audit log.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from aifo.route.request import RequestError, open_dir, open_fifo, write_file

MAX_WAITING = 8  # requests per agent waiting for a concurrency slot, beyond those running
MAX_PENDING = 64
OPEN_TIMEOUT_S = 10.0
QUIET_S = 1.0  # a burst ends after this long without a refusal
TICK_S = 0.02


@dataclass
class _Pending:
    """One refused request waiting for its shim's copiers (to hear its refusal)."""

    name: str
    dir_fd: int
    deadline: float
    fds: dict[str, int] = field(default_factory=dict)


class Overflow:
    """Refuses requests and counts bad control messages; `report(reasons, first)` writes the
    burst's record, `finished(name)` hands back an answered request folder for removal."""

    def __init__(
        self,
        req_fd: int | None,
        report: Callable[[dict[str, int], str], None],
        finished: Callable[[str], None],
        now: Callable[[], str],
        refuser: Callable[[str], None] | None = None,
    ) -> None:
        """`req_fd`: the request folder, here; or `refuser(name)`, which refuses one request
        where the folder is not on this machine (one exec: aifo.route.execroute)."""
        self.req_fd, self.report, self.finished, self.now = req_fd, report, finished, now
        self.refuser = refuser
        self.lock = threading.Lock()
        self.pending: list[_Pending] = []
        self.remote: list[str] = []  # names for `refuser`, in order
        self.counts: Counter[str] = Counter()
        self.first = ""
        self.last = 0.0
        self.wake = threading.Event()
        self.closing = False
        self.thread: threading.Thread | None = None

    def refuse(self, name: str, why: str) -> None:
        """Refuse request `name` (from the acceptor: never blocks, never reads the request)."""
        self.note(why)
        with self.lock:
            if len(self.pending) + len(self.remote) >= MAX_PENDING or self.closing:
                return
            if self.refuser is not None or self.req_fd is None:
                self.remote.append(name)
        if self.refuser is not None or self.req_fd is None:
            self._start()
            return
        try:
            dir_fd = open_dir(self.req_fd, name)
        except RequestError:
            return
        try:
            write_file(dir_fd, "taken", "")
        except OSError:  # taken already (a repeated message) or no such folder any more
            os.close(dir_fd)
            return
        with self.lock:
            self.pending.append(_Pending(name, dir_fd, time.monotonic() + OPEN_TIMEOUT_S))
        self._start()

    def note(self, why: str) -> None:
        """Count one refusal of this burst."""
        with self.lock:
            if not self.counts:
                self.first = self.now()
            self.counts[why] += 1
            self.last = time.monotonic()
        self._start()

    def _start(self) -> None:
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="aifo-route-refuse")
                self.thread.daemon = True
                self.thread.start()
        self.wake.set()

    def _loop(self) -> None:
        while True:
            self.wake.wait(TICK_S)
            self.wake.clear()
            self._answer(force=self.closing)
            with self.lock:
                quiet = self.counts and time.monotonic() - self.last > QUIET_S
                if self.closing and not self.pending and not self.remote:
                    return
            if quiet:
                self._flush()

    def _answer(self, *, force: bool) -> None:
        with self.lock:
            pending = list(self.pending)
            remote, self.remote = self.remote, []
        for name in [] if force else remote:  # closing: their shims' watchdogs answer them
            try:
                if self.refuser is not None:
                    self.refuser(name)
            except Exception:  # noqa: BLE001 - this thread answers every refusal: it must live
                pass
        done = []
        now = time.monotonic()
        for p in pending:
            for fifo in ("out", "err"):
                if fifo not in p.fds:
                    try:
                        p.fds[fifo] = open_fifo(p.dir_fd, fifo, os.O_WRONLY)
                    except (OSError, RequestError):
                        pass
            if len(p.fds) == 2 or force or now > p.deadline:
                _close(p)
                done.append(p)
        with self.lock:
            self.pending = [p for p in self.pending if p not in done]
        for p in done:
            self.finished(p.name)

    def _flush(self) -> None:
        with self.lock:
            counts, first = dict(self.counts), self.first
            self.counts.clear()
        if counts:
            self.report(counts, first)

    def close(self) -> None:
        """Answer what is pending (its callers get 126 now), and write the last burst's record."""
        with self.lock:
            self.closing = True
            thread = self.thread
        self.wake.set()
        if thread is not None:
            thread.join(OPEN_TIMEOUT_S + 1)
        self._answer(force=True)
        self._flush()


def _close(p: _Pending) -> None:
    if "err" in p.fds:
        try:
            os.write(p.fds["err"], b"aifo: too many routed commands waiting: refused\n")
        except OSError:
            pass
    try:
        write_file(p.dir_fd, "exit", "126\n")
    except OSError:
        pass
    for fd in (*p.fds.values(), p.dir_fd):
        os.close(fd)
