"""Warm workers: execs of the agent started ahead, each waiting for the one role it will play
(the exec transport's requests: take, stdin, signals and exit code, stdout, stderr, answer).

Starting an exec costs the engine a process start in the agent, tens of milliseconds of CPU on
a loaded machine; a routed command needs five (the take, then one per stream: docs/routing.md).
Started when a request comes, they were most of its latency. So the router keeps a few started
(`Pool`): each is a POSIX sh, run as the agent's user with the router's marker, blocked on its
stdin until it reads one line, `ROLE NAME [CODE]`, then it plays that role for that request and
ends with it, as the exec of that role did. An idle worker holds nothing of any request; it
ends when its connection drops (its router died: the read sees end of input) and is swept with
the router's execs (the marker). What a worker writes back is the agent's: bounded, as before.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable, Mapping

from aifo.engine.api import Engine
from aifo.engine.process import ExecProcess
from aifo.route.layout import REQUEST_DIR
from aifo.route.request import MAX_REQUEST

# The roles. `take`: marks the request taken, checks its files, then says how it went in its
# first line: `0 SIZE` and exactly SIZE bytes (`conv=sync` pads a file that shrank meanwhile),
# `3` no such folder, `4` taken already, `5 <why>`, `6` too big (refused unread). The answer is
# complete when its bytes are, not when the exec ends: the engine notices an exec's end only
# after the process is reaped, tens to hundreds of ms later on a loaded machine. `in`: the
# caller's stdin, in frames (a line with the size, then the bytes: 0 at its end) while it
# stays small; past IN_FRAMED bytes, `R` and the rest as it comes, to the exec's end. `up`:
# the signal words from `sig` (opened read-write: no end-of-file between signals); then the
# exit code from its stdin, written to `exit`, and `=` once it is (the same reason); it stops
# the signal reader and unblocks an `in` still waiting for its writer. `out`, `err`: each
# opens its FIFO for writing (which waits for the shim's reader), says `R`, then copies what
# it is sent in frames (a line `SIZE`, then SIZE bytes, read whole by `dd iflag=fullblock`)
# until a frame of size 0; it closes the FIFO and says `=`, or `G` when the caller's reader is
# gone (and ends). An exec's stdin has an end, but only one: frames let the worker outlive
# it. `answer`: a refusal, its message from stdin. `queued`: the sign that a request waits.
# Each role ends with a whole answer, so its worker waits for another line (a start saved
# each), except `in` past IN_FRAMED bytes (a `dd`, a `wc` and a `dd` per chunk cost more than
# an exec start then) and the short `answer` and `queued`. `sh` reads its line a byte at a
# time: the rest of stdin is the role's. Nothing is said on stderr (nobody reads a waiting
# worker's).
IN_FRAMED = 1 << 20  # the caller's stdin in frames up to this, then as it comes
WORKER = rf"""# aifo-worker: waits for its role (aifo.route.workers)
exec 2>/dev/null
take() {{
  [ -d "$d" ] && [ ! -h "$d" ] || {{ echo 3; return; }}
  mkdir "$d/taken" || {{ echo 4; return; }}
  [ -f "$d/req" ] && [ ! -h "$d/req" ] || {{ echo "5 the request is not a regular file"; return; }}
  for f in in out err sig; do
    [ -p "$d/$f" ] && [ ! -h "$d/$f" ] || {{ echo "5 the request's $f is not a FIFO"; return; }}
  done
  set -- $(wc -c <"$d/req") && case ${{1:-x}} in *[!0-9]*) false;; esac ||
    {{ echo "5 cannot read the request's size"; return; }}
  [ ${{#1}} -le 7 ] && [ "$1" -le {MAX_REQUEST} ] || {{ echo 6; return; }}
  echo "0 $1"; [ "$1" -eq 0 ] || dd if="$d/req" bs="$1" count=1 conv=sync
}}
up() {{
  {{ exec 4<>"$d/sig"; while read -r w <&4; do printf '%s\n' "$w"; done; }} </dev/null & s=$!
  read -r c || c=
  kill $s; wait $s
  case $c in ''|*[!0-9]*) exit 0;; esac
  printf '%s\n' "$c" >"$d/exit" && echo = || exit 0
  : <>"$d/in"
}}
down() {{
  exec 3>"$d/$role" || exit 1
  printf R
  while read -r k; do
    case $k in ''|*[!0-9]*) exit 1;; 0) break;; esac
    dd bs="$k" count=1 iflag=fullblock >&3 || {{ printf G; exit 0; }}
  done
  exec 3>&-; printf =
}}
copyin() {{
  exec 5<"$d/in" || {{ echo 0; return; }}
  t=$d/.in; total=0
  while :; do
    dd bs=65536 count=1 <&5 >"$t" && set -- $(wc -c <"$t") &&
      case ${{1:-x}} in *[!0-9]*) false;; esac && [ ${{#1}} -le 5 ] || set -- 0
    echo "$1"; [ "$1" -eq 0 ] && break
    dd if="$t" bs="$1" count=1 conv=sync
    total=$((total + $1))
    [ "$total" -le {IN_FRAMED} ] || {{ echo R; exec dd bs=65536 <&5; }}
  done
  exec 5<&-
}}
while read -r role n code; do
  case $n in ''|*[!0-9.]*) exit 3;; esac
  d={REQUEST_DIR}/$n
  case $role in
  take) take;;
  up) up;;
  in) copyin;;
  out|err) down;;
  answer)
    case $code in ''|*[!0-9]*) exit 3;; esac
    printf '%s\n' "$code" >"$d/exit"; : >"$d/out"; exec dd bs=65536 >"$d/err";;
  queued) exec mkdir "$d/queued";;
  *) exit 3;;
  esac
done
"""
STATUS_LIMIT = 512  # the take's first line
POOL_SIZE = 5  # one command's worth: its take and its four streams


def start(engine: Engine, ref: str, argv: list[str], user: str | None,
          env: Mapping[str, str]) -> ExecProcess:  # fmt: skip
    """An exec in the agent with our pipes on its stdin, stdout and stderr."""
    return engine.exec_start(
        ref, argv, user=user, env=env, interactive=True, pipes=True, own_group=True
    )


def read_bounded(
    proc: ExecProcess, *, limit: int, timeout_s: float, stdin: bytes = b""
) -> tuple[bool, bytes, bytes]:
    """Feed `stdin` and close it, then read the exec's stdout (at most `limit` bytes: then it
    is stopped) and stderr (at most 4 KiB) until both end or `timeout_s` passes: (whether they
    ended, out, err). Its exit code is not asked for."""
    assert proc.stdin and proc.stdout and proc.stderr
    deadline = time.monotonic() + timeout_s
    out, err = bytearray(), bytearray()
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
            return False, bytes(out), bytes(err)
        for fd in select.select(list(fds), [], [], left)[0]:
            data = _read_some(fd)
            if data is None:
                continue
            if not data:
                del fds[fd]
            elif fd == proc.stdout.fileno():
                out += data
            elif len(err) < 4096:
                err += data[: 4096 - len(err)]
    if len(out) > limit:
        return False, bytes(out[: limit + 1]), bytes(err)
    return True, bytes(out), bytes(err)


def read_take(proc: ExecProcess, timeout_s: float) -> tuple[bytes, bytes, bool]:
    """The take's answer: (its status line, then exactly the SIZE bytes it announced when it
    is `0 SIZE`, whether it is whole); whatever is missing when `timeout_s` passes or the exec
    ends is missing. The status line is cut at STATUS_LIMIT, SIZE is at most MAX_REQUEST."""
    assert proc.stdout
    deadline = time.monotonic() + timeout_s
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    buf = bytearray()
    want: int | None = None  # the whole answer's length, once the status line is in
    while want is None or len(buf) < want:
        if want is None:
            end = buf.find(b"\n")
            if end >= 0:
                status = bytes(buf[:end])
                size = status[2:] if status.startswith(b"0 ") else b""
                length = int(size) if size.isdigit() and len(size) <= 7 else 0
                want = end + 1 + min(length, MAX_REQUEST)
                continue
            if len(buf) > STATUS_LIMIT:
                return bytes(buf[:STATUS_LIMIT]), b"", False
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        data = _read_some(fd)
        if data is None:
            continue
        if not data:
            break
        buf += data
    status, _, body = bytes(buf[:want]).partition(b"\n")
    whole = want is not None and len(buf) == want  # nothing more: the worker can serve again
    return status, body, whole


def run_bounded(
    proc: ExecProcess, *, limit: int, timeout_s: float, stdin: bytes = b""
) -> tuple[int | None, bytes, bytes]:
    """`read_bounded`, then the exit code: (code or None, out, err). The exec is always ended
    (its connection dropped) on return."""
    started = time.monotonic()
    try:
        ended, out, err = read_bounded(proc, limit=limit, timeout_s=timeout_s, stdin=stdin)
        if not ended:
            return None, out, err
        return proc.wait(max(0.0, started + timeout_s - time.monotonic())), out, err
    finally:
        proc.kill()


def discard(proc: ExecProcess) -> None:
    """End a worker we will not use, on a thread of its own: our ends of its output first, so
    a copier blocked on a pipe nobody reads (an agent flooding it) cannot hold up its end."""

    def run() -> None:
        for stream in (proc.stdout, proc.stderr, proc.stdin):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        proc.kill()

    threading.Thread(target=run, name="aifo-route-discard", daemon=True).start()


class Pool:
    """At least `size` idle workers (at most twice that), topped up on a thread of its own
    after each use."""

    def __init__(self, spawn: Callable[[], ExecProcess], size: int = POOL_SIZE) -> None:
        self.spawn, self.size = spawn, size
        self.idle: list[ExecProcess] = []
        self.lock = threading.Lock()
        self.filling = False
        self.closed = False

    def get(self, line: bytes) -> ExecProcess:
        """A worker given its role (`line`): an idle one, else one started now (EngineError
        passes). The pool is topped up afterwards."""
        try:
            while True:
                with self.lock:
                    proc = self.idle.pop(0) if self.idle else None
                if proc is None:
                    proc = self.spawn()
                    _give(proc, line)  # a fresh worker's pipe takes it: it reads it once up
                    return proc
                if _idle(proc) and _give(proc, line):
                    return proc
                discard(proc)  # it ended (the agent killed it) or talked out of turn
        finally:
            self.fill()

    def put(self, proc: ExecProcess) -> None:
        """A worker back from a role that ends with a whole answer (`take`, `up`). Kept even
        when the pool was topped up meanwhile (a start saved), up to twice its size."""
        with self.lock:
            kept = not self.closed and len(self.idle) < 2 * self.size
            if kept:
                self.idle.append(proc)
        if not kept:
            discard(proc)

    def fill(self) -> None:
        """Top the pool up, on one thread; a start that fails stops it (the next `get` starts
        its worker itself and meets the error there)."""
        with self.lock:
            if self.filling or self.closed or len(self.idle) >= self.size:
                return
            self.filling = True
        threading.Thread(target=self._fill, name="aifo-route-pool", daemon=True).start()

    def _fill(self) -> None:
        try:
            while True:
                with self.lock:
                    if self.closed or len(self.idle) >= self.size:
                        return
                try:
                    proc = self.spawn()
                except Exception:  # noqa: BLE001 - the agent stopped: `get` will say so
                    return
                with self.lock:
                    kept = not self.closed
                    if kept:
                        self.idle.append(proc)
                if not kept:  # closed meanwhile
                    discard(proc)
                    return
        finally:
            with self.lock:
                self.filling = False

    def close(self) -> None:
        with self.lock:
            self.closed = True
            idle, self.idle = self.idle, []
        for proc in idle:
            discard(proc)


def _idle(proc: ExecProcess) -> bool:
    """Still waiting for its line: nothing to read on its stdout yet (not even its end)."""
    assert proc.stdout is not None
    try:
        return not select.select([proc.stdout.fileno()], [], [], 0)[0]
    except (OSError, ValueError):
        return False


def _give(proc: ExecProcess, line: bytes) -> bool:
    assert proc.stdin is not None
    try:
        proc.stdin.write(line)
    except (OSError, ValueError):
        return False
    return True


def _read_some(fd: int) -> bytes | None:
    """What a non-blocking `fd` has (at most 64 KiB): None when nothing yet, b"" at its end (an
    error reading it ends it too)."""
    try:
        return os.read(fd, 1 << 16)
    except BlockingIOError:
        return None
    except OSError:
        return b""
