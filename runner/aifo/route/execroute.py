"""The exec transport: the route folder is a tmpfs inside the agent, reached only through the
engine's exec of the agent's own container (for agents on another machine: Swarm).

Every exec runs as the agent's user, with a marker (`AIFO_ROUTE_ID=<router>.agent`) the router's
exit sweeps: it can read and write nothing the agent could not, and what it reads is the
agent's (bounded sizes, the same checks and refusals as the folder transport). The execs:

- `setup` (once per router): the shim, `bin/<tool>`, `req/` (0700) and the control FIFO, skipped
  when a stamp says they are current; probes that the folder can run programs (not noexec) and
  that the image has what the workers use (`wc`, `dd iflag=fullblock`).
- `ctl` (for the router's life): `dd` on the control FIFO, opened read-write (never EOF).
- per request, each by a warm worker (aifo.route.workers: started ahead, no exec start on the
  request's path): `take` (mark it taken, check its files, read `req`, bounded), then the stdio
  (aifo.route.execends); `answer` for a refusal. The shim removes its own folder (`self-clean`).
"""

from __future__ import annotations

import hashlib
import os
import select
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from aifo.engine.api import Engine
from aifo.engine.process import ExecProcess
from aifo.errors import EngineError, StateError
from aifo.model import Container
from aifo.route import folder as F
from aifo.route import shim
from aifo.route.execends import ExecEnds
from aifo.route.layout import REQUEST_DIR, ROUTE_MARKER, ROUTE_TARGET
from aifo.route.pump import Ends
from aifo.route.request import MAX_REQUEST, NAME, RequestError
from aifo.route.shim import MESSAGE_SIZE
from aifo.route.transport import Tools
from aifo.route.workers import WORKER, Pool, read_bounded, read_take, run_bounded, start

SELF_CLEAN = "self-clean"  # its presence tells the shim to remove its request folder itself
SETUP = rf"""R={ROUTE_TARGET}
[ -d "$R" ] && [ -w "$R" ] ||
  {{ echo "$R is not a folder the agent's user can write" >&2; exit 3; }}
stamp=$1
if [ "$(dd if="$R/.stamp" 2>/dev/null)" != "$stamp" ]; then
  put() {{ rm -rf "$1" && printf '%s' "$2" >"$1" && chmod 755 "$1"; }}
  mkdir -p "$R/bin" "$R/req" && chmod 700 "$R/req" && put "$R/shim" "$2" || exit 4
  names=" $3 "; shift 3
  for f in "$R"/bin/* "$R"/bin/.[!.]*; do
    [ -e "$f" ] || [ -h "$f" ] || continue
    case $names in *" ${{f##*/}} "*) ;; *) rm -rf "$f";; esac
  done
  while [ $# -ge 2 ]; do put "$R/bin/$1" "$2" || exit 4; shift 2; done
  put "$R/.probe" '#!/bin/sh
exit 0' && "$R/.probe" || {{ echo "$R cannot run programs (mounted noexec?)" >&2; exit 5; }}
  set -- $(printf abc | wc -c)
  [ "$(printf abc | dd bs=3 count=1 iflag=fullblock 2>/dev/null)" = abc ] && [ "$1" = 3 ] ||
    {{ echo "the agent's image needs wc, and dd that reads whole blocks (iflag=fullblock)" >&2
       exit 6; }}
  rm -f "$R/.probe" && : >"$R/{SELF_CLEAN}" && printf '%s' "$stamp" >"$R/.stamp" || exit 4
fi
[ -p "$R/ctl" ] && [ ! -h "$R/ctl" ] || {{ rm -rf "$R/ctl" && mkfifo -m 600 "$R/ctl"; }} || exit 4
"""
# `R` once the FIFO is open: a message written while nobody holds it would be lost.
CTL = f'exec 0<>"{ROUTE_TARGET}/ctl" && printf "R\\n" && exec dd bs={MESSAGE_SIZE} 2>/dev/null'
CLEAR = f'rm -f "{ROUTE_TARGET}/ctl"; rm -rf "{REQUEST_DIR}" && mkdir -m 700 "{REQUEST_DIR}"'
STEP_S = 10.0  # every short exec in the agent ends within this (a planted FIFO blocks, say)
SETUP_S = 60.0


class ExecTaken:
    """A request taken through `take`: its bytes read already, or why it is refused."""

    def __init__(self, route: ExecTransport, name: str, data: bytes, problem: str | None) -> None:
        self.route, self.name, self.data, self.problem = route, name, data, problem
        self.folder = f"{REQUEST_DIR}/{name}"
        self._ends: ExecEnds | None = None

    def read(self) -> bytes:
        if self.problem is not None:
            raise RequestError(self.problem)
        return self.data

    def answer(self, message: bytes, code: int) -> None:
        self.route.role(f"answer {self.name} {code}", message)

    def queued(self) -> None:
        self.route.role(f"queued {self.name}")

    def ends(self) -> Ends:
        self._ends = ExecEnds(self.route.worker, self.route.pool_put, self.name)
        return self._ends

    def write_exit(self, code: int) -> None:
        if self._ends is None or not self._ends.write_exit(code):
            raise OSError("the exit code could not be written")

    def close(self) -> None:
        if self._ends is not None:
            self._ends.close()


class ExecTransport:
    """One agent's route, in a tmpfs inside it, as one router sees it."""

    def __init__(
        self, engine: Engine, agent: Container, folder: F.Folder, tools: Tools, router_id: str
    ) -> None:
        self.engine, self.folder, self.tools = engine, folder, tools
        self.ref, self.user = agent.docker_name, agent.user
        self.env = {ROUTE_MARKER: f"{router_id}.agent"}
        self.family = f"{ROUTE_MARKER}={router_id}."
        self.ctl: object | None = None
        self.ctl_fd = -1
        self.pool: Pool | None = None
        self.buf = bytearray()

    # -- helpers ----------------------------------------------------------------------------
    def short(self, argv: list[str], *, limit: int = 4096, timeout_s: float = STEP_S,
              ) -> tuple[int | None, bytes, bytes]:  # fmt: skip
        """A short exec in the agent: (code or None, stdout, stderr); EngineError passes."""
        proc = start(self.engine, self.ref, argv, self.user, self.env)
        return run_bounded(proc, limit=limit, timeout_s=timeout_s)

    def worker(self, line: bytes) -> ExecProcess:
        """A warm worker given its role (`line`: `ROLE NAME [CODE]`); EngineError passes."""
        if self.pool is None:
            raise EngineError(f"the route in {self.ref} is not served")
        return self.pool.get(line)

    def pool_put(self, proc: ExecProcess) -> None:
        if self.pool is None:
            proc.kill()
        else:
            self.pool.put(proc)

    def role(self, line: str, stdin: bytes = b"", *, limit: int = 4096,
             ) -> tuple[bool, bytes, bytes]:  # fmt: skip
        """A worker plays one short role to its end, within STEP_S: (whether it ended, its
        stdout, its stderr); EngineError passes."""
        proc = self.worker(f"{line}\n".encode())
        try:
            return read_bounded(proc, limit=limit, timeout_s=STEP_S, stdin=stdin)
        finally:
            proc.kill()

    def _setup(self) -> None:
        stubs = {t: shim.stub(t, tc, env) for t, (tc, env) in sorted(self.tools.items())}
        for tool in stubs:
            if not F.TOOL_NAME.fullmatch(tool):
                raise StateError(f"cannot route {tool!r}: not a command name")
        stamp = hashlib.sha256(repr((shim.SHIM, stubs)).encode()).hexdigest()[:32]
        pairs = [x for item in stubs.items() for x in item]
        argv = ["sh", "-c", SETUP, "aifo-setup", stamp, shim.SHIM, " ".join(stubs), *pairs]
        try:
            code, out, err = self.short(argv, timeout_s=SETUP_S)
        except EngineError as exc:
            raise StateError(f"cannot prepare the route in {self.ref}: {exc.message}") from exc
        if code != 0:
            why = (err or out).decode(errors="replace").strip() or f"exit code {code}"
            raise StateError(f"cannot prepare the route in {self.ref}: {why}")

    def _clear(self) -> None:
        try:
            self.short(["sh", "-c", CLEAR])
        except EngineError:
            pass  # the agent is gone: so is its tmpfs

    # -- Transport --------------------------------------------------------------------------
    def lock(self) -> AbstractContextManager[None]:
        return F.router_lock(self.folder, on_last=self._clear, on_first=self._orphans)

    def _orphans(self) -> None:
        """KILL the execs of routers that died (SIGKILL, a lost machine): a dead router's
        control `dd` would go on taking requests nobody serves. Only when no router of this
        machine serves the agent (routers on two machines at once are not supported)."""
        try:
            self.engine.signal_marked(self.ref, f"{ROUTE_MARKER}=", "KILL", user=self.user,
                                      family=True, timeout_s=STEP_S)  # fmt: skip
        except Exception:  # noqa: BLE001 - best effort: the agent may not run yet
            pass

    def start(self) -> int:
        self._setup()
        proc = start(self.engine, self.ref, ["sh", "-c", CTL, "aifo-ctl"], self.user, self.env)
        assert proc.stdin and proc.stdout
        proc.stdin.close()
        self.ctl = proc
        self.ctl_fd = proc.stdout.fileno()
        os.set_blocking(self.ctl_fd, False)
        deadline = time.monotonic() + SETUP_S
        while b"\n" not in self.buf:  # its `R`: from now on no message is lost
            if not select.select([self.ctl_fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise StateError(f"cannot read the route's control FIFO in {self.ref}")
            data = os.read(self.ctl_fd, 1 << 16)
            if not data:
                raise StateError(f"cannot open the route's control FIFO in {self.ref}")
            self.buf += data
        del self.buf[: self.buf.index(b"\n") + 1]
        argv = ["sh", "-c", WORKER, "aifo-worker"]
        self.pool = Pool(lambda: start(self.engine, self.ref, argv, self.user, self.env))
        self.pool.fill()
        return self.ctl_fd

    def messages(self) -> Iterator[bytes]:
        """Lines from the control exec; a line longer than a message is one malformed message
        (yielded as b""), and the rest of it is dropped. EOFError when the exec ended."""
        try:
            data = os.read(self.ctl_fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            raise EOFError("the control exec ended")
        self.buf += data
        while True:
            end = self.buf.find(b"\n")
            if end < 0:
                if len(self.buf) >= MESSAGE_SIZE:
                    self.buf.clear()
                    yield b""
                return
            line = bytes(self.buf[:end])
            del self.buf[: end + 1]
            yield line if len(line) < MESSAGE_SIZE else b""

    def take(self, name: str) -> ExecTaken | None:
        if not NAME.fullmatch(name):
            raise RequestError("malformed request name")
        try:
            proc = self.worker(f"take {name}\n".encode())
        except EngineError as exc:
            return ExecTaken(self, name, b"", f"cannot read the request: {exc.message}")
        status, data, whole = read_take(proc, STEP_S)
        if whole and status[:1] in (b"0", b"3", b"4", b"5", b"6"):
            self.pool_put(proc)  # it waits for its next line
        else:
            proc.kill()
        if status == b"3":
            raise RequestError("request folder: No such file or directory")
        if status == b"4":
            return None
        if status.startswith(b"5 "):
            return ExecTaken(self, name, b"", status[2:].decode(errors="replace"))
        if status == b"6":  # refused by its size, unread (as the folder does)
            return ExecTaken(self, name, b"", f"the request is larger than {MAX_REQUEST} bytes")
        size = status[2:] if status.startswith(b"0 ") else b""
        if not size.isdigit() or len(data) != int(size):
            return ExecTaken(self, name, b"", "cannot read the request (no complete answer)")
        return ExecTaken(self, name, data, None)

    def finished(self, name: str) -> None:
        """Nothing: the shim removes its own folder (the last router out clears the rest)."""

    def refuser(self) -> Callable[[str], None] | None:
        def refuse(name: str) -> None:
            try:
                taken = self.take(name)
            except (RequestError, EngineError):
                return
            if taken is not None:
                try:
                    taken.answer(b"aifo: too many routed commands waiting: refused\n", 126)
                except EngineError:
                    pass

        return refuse

    def req_fd(self) -> int | None:
        return None

    def stop(self) -> None:
        """Stop the control exec and everything this router started in the agent: KILLed
        first, so dropping the connection then finds the exec ended (the adapter waits up to
        10 s for a running exec's exit code)."""
        if self.pool is not None:
            self.pool.close()  # no more workers: the sweep below then finds every one
        try:
            self.engine.signal_marked(self.ref, self.family, "KILL", user=self.user,
                                      family=True, timeout_s=STEP_S)  # fmt: skip
        except Exception:  # noqa: BLE001 - best effort: they end with the agent anyway
            pass
        if self.ctl is not None:
            self.ctl.kill()  # type: ignore[attr-defined]
