"""The host-side router: serves one agent's shims while `aifo exec`/`run`/`shell` runs.

It is the only party with engine access; the agent only ever writes files and FIFOs in its own
route folder (mounted from the host, 0700, into that agent alone). For each request it runs the
tool in the sidecar that provides it through the engine adapter (`docker exec` as the agent's
uid:gid, in the mapped folder, with only the allowed variables), streams the stdio (aifo.route.
pump), returns the exit code and writes an audit record. Several routers may serve one agent
(several `aifo exec` at once); each request goes to exactly one of them, and the per-agent
concurrency limit holds across all of them.
"""

from __future__ import annotations

import os
import secrets as _random
import select
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aifo.engine.api import Engine
from aifo.engine.process import ExecProcess
from aifo.errors import EngineError, NotFound, StateError
from aifo.model import LABEL_SESSION, Container, Session
from aifo.route import folder as F
from aifo.route.layout import DEFAULT_PASS_ENV, ROUTE_MARKER, ROUTE_TARGET
from aifo.route.pump import Outcome, Pump
from aifo.route.request import (
    Request,
    RequestError,
    answer,
    map_cwd,
    open_request,
    parse,
    write_file,
)
from aifo.route.shim import MESSAGE_SIZE, MISSING, SIDECAR_WRAPPER, TTY_SIZE
from aifo.state import audit

DAEMON = b"Error response from daemon: "
REFUSED = 126  # like a shell's "cannot execute"
LINGER_S = 2.0  # an answered request folder stays this long for its shim to read the exit code


@dataclass(frozen=True)
class Sidecar:
    """The toolchain container a routed tool runs in, or why it cannot."""

    toolchain: Container
    ref: str | None  # None: not running (or not this session's)
    problem: str  # why not, for the caller's message
    shared: tuple[tuple[str, str], ...]  # (agent folder, sidecar folder) with the same host path


def route_folder(agent: Container) -> Path | None:
    """The host folder compile mounted at ROUTE_TARGET in `agent`, if it routes anything."""
    for mount in agent.mounts:
        if mount.target == ROUTE_TARGET and mount.kind == "bind" and mount.source:
            return Path(mount.source)
    return None


def _shared(agent: Container, toolchain: Container) -> tuple[tuple[str, str], ...]:
    theirs = {m.source: m.target for m in toolchain.mounts if m.kind == "bind" and m.source}
    return tuple(
        (m.target, theirs[m.source])
        for m in agent.mounts
        if m.kind == "bind" and m.source in theirs and m.target != ROUTE_TARGET
    )


class Router:
    def __init__(
        self,
        engine: Engine,
        session: Session,
        agent: Container,
        *,
        spec_file: str,
        secrets: Sequence[str] = (),
    ) -> None:
        path = route_folder(agent)
        if path is None or not agent.routes:
            raise StateError(f"{agent.id} routes no tools")
        self.engine, self.session, self.agent, self.spec_file = engine, session, agent, spec_file
        self.secrets = tuple(secrets)
        self.id = _random.token_hex(6)
        self.count = 0
        self.toolchains: dict[str, Container] = {}
        for _tool, tc_id in agent.routes:
            tc = session.resources.get(tc_id)
            if isinstance(tc, Container):
                self.toolchains[tc_id] = tc
        tools = {
            tool: (tc_id, (*DEFAULT_PASS_ENV, *self._pass_env(tc_id)))
            for tool, tc_id in agent.routes
        }
        self.routes = dict(agent.routes)
        self.folder = F.prepare(path, path.parent / f".{agent.name}.host", tools)
        self.slots = F.Slots(self.folder, agent.route_limit)
        self.sidecars = self._locate()
        self.used: set[str] = set()
        self.stop_r, self.stop_w = os.pipe2(os.O_CLOEXEC)
        self.stopping = threading.Event()
        self.workers: list[threading.Thread] = []
        self.lock = threading.Lock()
        self.done: list[tuple[float, str]] = []  # (when, request folder) answered, to remove

    def _pass_env(self, tc_id: str) -> tuple[str, ...]:
        tc = self.toolchains.get(tc_id)
        return tc.pass_env if tc else ()

    def _refresh(self, tc_id: str) -> Sidecar:
        """Look the sidecar up again (it may have been started or recreated since)."""
        fresh = self._locate([tc_id])[tc_id]
        with self.lock:
            self.sidecars[tc_id] = fresh
        return fresh

    def _locate(self, only: Sequence[str] = ()) -> dict[str, Sidecar]:
        wanted = {k: v for k, v in self.toolchains.items() if not only or k in only}
        names = [tc.docker_name for tc in wanted.values()]
        try:
            found = {o.name.lstrip("/"): o for o in self.engine.inspect_containers(names)}
        except NotFound:
            found = {}
            for name in names:
                try:
                    found.update(
                        {o.name.lstrip("/"): o for o in self.engine.inspect_containers([name])}
                    )
                except NotFound:
                    continue
        out: dict[str, Sidecar] = {}
        for tc_id, tc in wanted.items():
            seen = found.get(tc.docker_name)
            problem = ""
            if seen is None:
                problem = f"its container {tc.docker_name} does not exist"
            elif seen.labels.get(LABEL_SESSION) != self.session.name:
                problem = f"{tc.docker_name} is not this session's container"
            elif not seen.running:
                problem = f"its container {tc.docker_name} is {seen.state}"
            ref = None if problem or seen is None else (seen.id or seen.name)
            out[tc_id] = Sidecar(tc, ref, problem, _shared(self.agent, tc))
        return out

    def warnings(self) -> list[str]:
        return [
            f"warning: toolchain {s.toolchain.name} is down ({s.problem}): its tools "
            f"({', '.join(t for t, tc in self.routes.items() if tc == tc_id)}) will fail; "
            f"run `aifo apply {self.spec_file}`"
            for tc_id, s in sorted(self.sidecars.items())
            if s.ref is None
        ]

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> Router:
        self._lock_cm = F.router_lock(self.folder)
        self._lock_cm.__enter__()
        # A router that died may have left the FIFO removed by another's exit: make it again.
        F.prepare_ctl(self.folder)
        self.ctl = F.open_ctl(self.folder)
        self.req_fd = os.open(self.folder.path / "req", F.DIR_FLAGS)
        self.acceptor = threading.Thread(target=self._accept, name="aifo-route", daemon=True)
        self.acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        os.write(self.stop_w, b"x")
        self.acceptor.join()
        for worker in list(self.workers):
            worker.join()
        for _t, name in self.done:  # the exec has ended: its shims have read their codes
            try:
                F.remove_at(self.req_fd, name)
            except OSError:
                pass
        for tc_id in sorted(self.used):  # what routed commands left behind (daemons, children)
            ref = self.sidecars[tc_id].ref
            if ref:
                self._signal(ref, f"{ROUTE_MARKER}={self.id}.", "KILL")
        self._lock_cm.__exit__(None, None, None)
        for fd in (self.ctl, self.req_fd, self.stop_r, self.stop_w):
            os.close(fd)

    def _accept(self) -> None:
        poller = select.poll()
        poller.register(self.ctl, select.POLLIN)
        poller.register(self.stop_r, select.POLLIN)
        while not self.stopping.is_set():
            for fd, _mask in poller.poll():
                if fd == self.stop_r:
                    return
                self._read_ctl()

    def _read_ctl(self) -> None:
        while True:
            try:
                msg = os.read(self.ctl, MESSAGE_SIZE)
            except BlockingIOError:
                return
            name = msg.decode(errors="replace").strip()
            worker = threading.Thread(target=self._serve, args=(name,), daemon=True)
            with self.lock:
                self.workers = [w for w in self.workers if w.is_alive()]
                self.workers.append(worker)
            worker.start()

    # -- one request ------------------------------------------------------------------------
    def _serve(self, name: str) -> None:
        try:
            dir_fd, data = open_request(self.req_fd, name)
        except RequestError:
            return  # no folder to answer into: the shim's watchdog reports it
        try:
            write_file(dir_fd, "taken", "")
        except OSError:
            os.close(dir_fd)
            return
        try:
            self._run(dir_fd, data)
        finally:
            os.close(dir_fd)
            self._finished(name)

    def _finished(self, name: str) -> None:
        """Remove request folders whose shim has had LINGER_S to read its exit code."""
        now = time.monotonic()
        with self.lock:
            self.done.append((now, name))
            old = [n for t, n in self.done if now - t > LINGER_S]
            self.done = [(t, n) for t, n in self.done if now - t <= LINGER_S]
        for stale in old:
            try:
                F.remove_at(self.req_fd, stale)
            except OSError:
                pass

    def _run(self, dir_fd: int, data: bytes) -> None:
        started, clock = audit.now(), time.monotonic()
        tool = "?"
        record: dict[str, Any] = {"agent": self.agent.name}
        try:
            tool = _tool_of(data)
            tc_id = self.routes.get(tool)
            if tc_id is None:
                raise RequestError(f"{tool} is not routed for {self.agent.id}")
            sidecar = self.sidecars[tc_id]
            allowed = {*DEFAULT_PASS_ENV, *sidecar.toolchain.pass_env}
            req = parse(data, allowed)
            record.update(toolchain=sidecar.toolchain.name, argv=list(req.argv), cwd=req.cwd)
            if sidecar.ref is None:
                sidecar = self._refresh(tc_id)
            if sidecar.ref is None:
                raise RequestError(
                    f"toolchain {sidecar.toolchain.name} is down ({sidecar.problem})\n"
                    f"  hint: run `aifo apply {self.spec_file}`, then run the command again"
                )
            workdir = map_cwd(req.cwd, sidecar.shared, self.agent.working_dir or "/workspace",
                              f"toolchain {sidecar.toolchain.name}")  # fmt: skip
        except RequestError as exc:
            answer(dir_fd, f"aifo: {tool}: {exc}\n".encode(), REFUSED)
            self._audit(record, started, clock, Outcome(REFUSED, "refused"))
            return
        slot = self._take_slot(dir_fd)
        if slot is None:
            answer(dir_fd, f"aifo: {tool}: the router is stopping\n".encode(), REFUSED)
            self._audit(record, started, clock, Outcome(REFUSED, "stopped"))
            return
        try:
            outcome = self._exec(dir_fd, sidecar, tc_id, req, workdir)
        finally:
            os.close(slot)
        self._audit(record, started, clock, outcome)

    def _exec(
        self, dir_fd: int, sidecar: Sidecar, tc_id: str, req: Request, workdir: str
    ) -> Outcome:
        assert sidecar.ref is not None
        ref, name = sidecar.ref, sidecar.toolchain.name
        with self.lock:
            self.count += 1
            marker = f"{ROUTE_MARKER}={self.id}.{self.count}"
            self.used.add(tc_id)
        env = {**req.env, ROUTE_MARKER: marker.partition("=")[2]}
        if req.tty:
            env[TTY_SIZE] = f"{req.tty[0]} {req.tty[1]}"
        argv = ["sh", "-c", SIDECAR_WRAPPER, "aifo-route", *req.argv]
        try:
            try:
                proc = self._start(ref, argv, workdir, env, req)
            except EngineError:
                # Recreated by an apply meanwhile (a new id)? Once more, with a fresh look.
                fresh = self._refresh(tc_id)
                if fresh.ref is None or fresh.ref == ref:
                    raise
                ref = fresh.ref
                proc = self._start(ref, argv, workdir, env, req)
        except EngineError as exc:
            answer(dir_fd, self._down(req.argv[0], name, exc.message), REFUSED)
            return Outcome(REFUSED, "unavailable")

        def signal(sig: str) -> None:
            threading.Thread(target=self._signal, args=(ref, marker, sig), daemon=True).start()

        def finish(mark: bytes | None, held: bytes, code: int) -> bytes:
            tool = req.argv[0]
            if mark == MISSING and code == 127:
                return (
                    f"aifo: {tool}: not found in toolchain {name} ({sidecar.toolchain.image}): "
                    f"install it in that image, or drop it from the toolchain's `tools:`\n"
                ).encode()
            if mark == DAEMON and code != 0:
                return self._down(tool, name, held.decode(errors="replace").strip())
            return held

        pump = Pump(
            proc, dir_fd, self.stop_r, signal,
            max_runtime_s=self.agent.route_timeout_s, err_marks=(MISSING, DAEMON),
        )  # fmt: skip
        try:
            outcome = pump.run(finish)
            if outcome.signals:  # stopped early: nothing it started may outlive it
                self._signal(ref, marker, "KILL")
            try:
                write_file(dir_fd, "exit", f"{outcome.exit_code & 0xFF}\n")
            except OSError:
                pass  # the shim is gone (killed) and took its folder with it
        finally:
            pump.close()
            proc.kill()
        return outcome

    def _start(
        self, ref: str, argv: list[str], workdir: str, env: dict[str, str], req: Request
    ) -> ExecProcess:
        return self.engine.exec_start(
            ref, argv, user=self.agent.user, workdir=workdir, env=env,
            interactive=True, pipes=True, own_group=True, tty=req.tty is not None, size=req.tty,
        )  # fmt: skip

    def _down(self, tool: str, toolchain: str, why: str) -> bytes:
        return (
            f"aifo: {tool}: toolchain {toolchain} cannot run it: {why}\n"
            f"  hint: run `aifo apply {self.spec_file}`, then run the command again\n"
        ).encode()

    def _take_slot(self, dir_fd: int) -> int | None:
        """A free slot, waited for; a request that has to wait says so in its folder
        (`queued`), which is what shows the limit holding (tests, and anyone debugging)."""
        queued = False
        while not self.stopping.is_set():
            slot = self.slots.try_take()
            if slot is not None:
                return slot
            if not queued:
                queued = True
                try:
                    write_file(dir_fd, "queued", "")
                except OSError:
                    pass  # only a sign for the curious: the request waits all the same
            self.stopping.wait(0.02)
        return None

    def _signal(self, ref: str, marker: str, sig: str) -> None:
        try:
            self.engine.signal_marked(ref, marker, sig, user=self.agent.user)
        except Exception:  # noqa: BLE001 - best effort; the escalation's next step follows
            pass

    def _audit(
        self, record: Mapping[str, Any], started: str, clock: float, outcome: Outcome
    ) -> None:
        fields = {
            **record,
            "started": started,
            "exit_code": outcome.exit_code,
            "duration_s": round(time.monotonic() - clock, 3),
            "outcome": outcome.reason,
        }
        if outcome.signals:
            fields["signals"] = outcome.signals
        try:
            audit.record(self.session.name, "route", fields, secrets=self.secrets)
        except StateError:
            pass  # never fail a command over its audit record; `aifo audit` shows the gap


def _tool_of(data: bytes) -> str:
    fields = data.split(b"\0", 4)
    if len(fields) < 5:
        raise RequestError("malformed request")
    return os.fsdecode(fields[3])
