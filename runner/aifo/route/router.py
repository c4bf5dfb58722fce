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
from pathlib import Path
from typing import Any

from aifo.engine.api import Engine
from aifo.engine.process import ExecProcess
from aifo.errors import EngineError, StateError
from aifo.model import HOLDER_USER, Container, Session
from aifo.route import folder as F
from aifo.route.execroute import ExecTransport
from aifo.route.hints import ResolveWatch, no_egress
from aifo.route.layout import DEFAULT_PASS_ENV, ROUTE_MARKER
from aifo.route.overflow import MAX_WAITING, Overflow
from aifo.route.pump import Outcome, Pump, SignalQueue
from aifo.route.request import NAME, Request, RequestError, argv_fields, map_cwd, parse
from aifo.route.shim import MISSING, TTY_SIZE, sidecar_argv
from aifo.route.sidecar import Sidecar, locate, route_mount
from aifo.route.transport import FolderTransport, Taken, Transport
from aifo.state import audit
from aifo.state.folder import route_root

DAEMON = b"Error response from daemon: "
REFUSED = 126  # like a shell's "cannot execute"
REFUSED_RECORD = 2048  # characters of a refused request's record (its argv, its reason)
LINGER_S = 2.0  # an answered request folder stays this long for its shim to read the exit code


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
        mount = route_mount(agent)
        if mount is None or not agent.routes:
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
        self.transport: Transport
        if mount.kind == "bind" and mount.source:
            path = Path(mount.source)
            folder = F.prepare(path, path.parent / f".{agent.name}.host", tools)
            self.transport = FolderTransport(folder)
        else:  # a tmpfs in the agent: no folder shared with this machine
            root = route_root(session.name)
            folder = F.prepare_private(root / agent.name, root / f".{agent.name}.host")
            self.transport = ExecTransport(engine, agent, folder, tools, self.id)
        self.folder = folder
        self.slots = F.Slots(self.folder, agent.route_limit)
        self.sidecars = self._locate()
        self.used: set[str] = set()
        self.stop_r, self.stop_w = os.pipe2(os.O_CLOEXEC)
        self.stopping = threading.Event()
        self.workers: list[threading.Thread] = []
        self.lock = threading.Lock()
        self.done: list[tuple[float, str]] = []  # (when, request folder) answered, to remove
        # Requests a worker holds (running, or waiting for a slot), per agent: the rest wait
        # nowhere, they are refused (aifo.route.overflow).
        self.held = F.Slots(self.folder, agent.route_limit + MAX_WAITING, "held")

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
        return locate(self.engine, self.session.name, self.agent, wanted)

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
        self._lock_cm = self.transport.lock()
        self._lock_cm.__enter__()
        try:
            self.ctl = self.transport.start()
        except BaseException:
            try:
                self.transport.stop()
            finally:
                self._lock_cm.__exit__(None, None, None)
                os.close(self.stop_r)
                os.close(self.stop_w)
            raise
        self.overflow = Overflow(
            self.transport.req_fd(), self._audit_burst, self._finished, audit.now,
            self.transport.refuser(),
        )  # fmt: skip
        self.acceptor = threading.Thread(target=self._accept, name="aifo-route", daemon=True)
        self.acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stopping.set()
            os.write(self.stop_w, b"x")
            self.acceptor.join()
            for worker in list(self.workers):
                worker.join()
            self.overflow.close()
            for _t, name in self.done:  # the exec has ended: its shims have read their codes
                self.transport.finished(name)  # never raises (a planted tree, a FIFO, ...)
        finally:
            try:  # whatever happened above: what routed commands left behind (daemons, children)
                for tc_id in sorted(self.used):
                    ref = self.sidecars[tc_id].ref
                    if ref:
                        marker = f"{ROUTE_MARKER}={self.id}."
                        self._signal(ref, marker, "KILL", self._user(tc_id), family=True)
            finally:
                try:
                    self.transport.stop()
                finally:
                    self._lock_cm.__exit__(None, None, None)
                    for fd in (self.stop_r, self.stop_w):
                        os.close(fd)

    def _accept(self) -> None:
        poller = select.poll()
        poller.register(self.ctl, select.POLLIN)
        poller.register(self.stop_r, select.POLLIN)
        while not self.stopping.is_set():
            for fd, _mask in poller.poll():
                if fd == self.stop_r:
                    return
                try:
                    self._read_ctl()
                except EOFError:  # the control exec ended (the agent stopped): serve no more
                    poller.unregister(self.ctl)

    def _read_ctl(self) -> None:
        for msg in self.transport.messages():
            name = msg.decode("ascii", errors="replace").strip()
            if not NAME.fullmatch(name):
                self.overflow.note("malformed control message")
                continue
            ticket = self.held.try_take()
            if ticket is None:  # a flood: refused by one thread, audited once per burst
                self.overflow.refuse(name, "too many requests waiting")
                continue
            worker = threading.Thread(target=self._serve, args=(name, ticket), daemon=True)
            with self.lock:
                self.workers = [w for w in self.workers if w.is_alive()]
                self.workers.append(worker)
            try:
                worker.start()
            except RuntimeError:  # no thread to be had: refused like the excess
                os.close(ticket)
                self.overflow.refuse(name, "too many requests waiting")

    # -- one request ------------------------------------------------------------------------
    def _serve(self, name: str, ticket: int) -> None:
        """Serve one request; whatever goes wrong ends as a refusal (126) with a record."""
        started, clock = audit.now(), time.monotonic()
        record: dict[str, Any] = {"agent": self.agent.name, "request": name}
        try:
            try:
                taken = self.transport.take(name)
            except RequestError as exc:  # no folder to answer into: the shim's watchdog says so
                self._audit({**record, "reason": str(exc)}, started, clock, REFUSAL)
                return
            if taken is None:  # taken already: a repeated message (one request runs once)
                self.overflow.note("repeated request")
                return
            try:
                self._run(taken, record, started, clock)
            finally:
                taken.close()
                self._finished(name)
        except Exception as exc:  # noqa: BLE001 - the thread must not die unseen
            self._audit({**record, "reason": f"router: {exc!r}"}, started, clock, REFUSAL)
        finally:
            os.close(ticket)

    def _finished(self, name: str) -> None:
        """Remove request folders whose shim has had LINGER_S to read its exit code."""
        now = time.monotonic()
        with self.lock:
            self.done.append((now, name))
            old = [n for t, n in self.done if now - t > LINGER_S]
            self.done = [(t, n) for t, n in self.done if now - t <= LINGER_S]
        for stale in old:
            try:
                self.transport.finished(stale)
            except OSError:
                pass

    def _run(self, taken: Taken, record: dict[str, Any], started: str, clock: float) -> None:
        tool = "?"
        try:
            data = taken.read()
            tool = _tool_of(data)
            tc_id = self.routes.get(tool)
            if tc_id is None:
                raise RequestError(f"{tool} is not routed for {self.agent.id}")
            sidecar = self.sidecars[tc_id]
            allowed = {*DEFAULT_PASS_ENV, *sidecar.toolchain.pass_env}
            req = parse(data, allowed)
            record.update(toolchain=sidecar.toolchain.name, cwd=req.cwd)
            record.update(argv_fields(req.argv, self.secrets))
            if sidecar.ref is None:
                sidecar = self._refresh(tc_id)
            if sidecar.ref is None:
                raise RequestError(
                    f"toolchain {sidecar.toolchain.name} is down ({sidecar.problem})\n"
                    f"  hint: run `aifo apply {self.spec_file}`, then run the command again"
                )
            workdir = map_cwd(req.cwd, sidecar.shared, self.agent.working_dir or "/workspace",
                              f"toolchain {sidecar.toolchain.name}")  # fmt: skip
            self._user(tc_id)
        except Exception as exc:  # noqa: BLE001 - every parse failure is a refusal, never a crash
            why = str(exc) if isinstance(exc, RequestError) else f"cannot serve it: {exc!r}"
            _answer(taken, f"aifo: {tool[:64]!s}: {why}\n".encode(errors="replace"), REFUSED)
            self._audit({**record, "reason": why}, started, clock, REFUSAL)
            return
        slot = self._take_slot(taken)
        if slot is None:
            _answer(taken, f"aifo: {tool}: the router is stopping\n".encode(), REFUSED)
            self._audit(record, started, clock, Outcome(REFUSED, "stopped"))
            return
        try:
            outcome = self._exec(taken, sidecar, tc_id, req, workdir)
        except Exception as exc:  # noqa: BLE001 - the caller gets an answer whatever happens
            _answer(taken, f"aifo: {tool}: the router failed: {exc}\n".encode(), REFUSED)
            outcome = Outcome(REFUSED, "failed")
        finally:
            os.close(slot)
        self._audit(record, started, clock, outcome)

    def _exec(
        self, taken: Taken, sidecar: Sidecar, tc_id: str, req: Request, workdir: str
    ) -> Outcome:
        assert sidecar.ref is not None
        ref, name = sidecar.ref, sidecar.toolchain.name
        user = self._user(tc_id)
        with self.lock:
            self.count += 1
            marker = f"{ROUTE_MARKER}={self.id}.{self.count}"
            self.used.add(tc_id)
        env = {**req.env, ROUTE_MARKER: marker.partition("=")[2]}
        if req.tty:
            env[TTY_SIZE] = f"{req.tty[0]} {req.tty[1]}"
        argv = sidecar_argv(req.argv)  # bytes that are not UTF-8 travel encoded
        try:
            try:
                proc = self._start(ref, argv, workdir, env, req, user)
            except EngineError:
                # Recreated by an apply meanwhile (a new id)? Once more, with a fresh look.
                fresh = self._refresh(tc_id)
                if fresh.ref is None or fresh.ref == ref:
                    raise
                ref = fresh.ref
                proc = self._start(ref, argv, workdir, env, req, user)
        except EngineError as exc:
            _answer(taken, self._down(req.argv[0], name, exc.message), REFUSED)
            return Outcome(REFUSED, "unavailable")

        signal = SignalQueue(lambda sig: self._signal(ref, marker, sig, user))

        # a toolchain without egress: a name that does not resolve is the likely cause
        watch = ResolveWatch() if sidecar.toolchain.egress is None else None

        def finish(mark: bytes | None, held: bytes, code: int) -> bytes:
            tool = req.argv[0]
            if watch is not None and watch.seen and code != 0 and mark is None:
                return held + no_egress(tool, name)
            if mark == MISSING and code == 127:
                return (
                    f"aifo: {tool}: not found in toolchain {name} ({sidecar.toolchain.image}): "
                    f"install it in that image, or drop it from the toolchain's `tools:`\n"
                ).encode()
            if mark == DAEMON and code != 0:
                return self._down(tool, name, held.decode(errors="replace").strip())
            return held

        pump: Pump | None = None
        ended = False
        try:
            pump = Pump(
                proc, taken.ends(), self.stop_r, signal,
                max_runtime_s=self.agent.route_timeout_s, err_marks=(MISSING, DAEMON),
                watch=watch.feed if watch is not None else None,
            )  # fmt: skip
            outcome = pump.run(finish)
            ended = not outcome.signals
            try:
                taken.write_exit(outcome.exit_code & 0xFF)
            except (OSError, EngineError):
                pass  # the shim is gone (killed) and took its folder with it
        finally:
            if not ended:  # stopped early, or the pump failed: nothing it started may outlive it
                self._signal(ref, marker, "KILL", user)
            if pump is not None:
                pump.close()
            proc.kill()
        return outcome

    def _start(
        self, ref: str, argv: list[str], workdir: str, env: dict[str, str], req: Request,
        user: str,
    ) -> ExecProcess:  # fmt: skip
        return self.engine.exec_start(
            ref, argv, user=user, workdir=workdir, env=env,
            interactive=True, pipes=True, own_group=True, tty=req.tty is not None, size=req.tty,
        )  # fmt: skip

    def _user(self, tc_id: str) -> str:
        """Who routed commands run as in `tc_id`: the agent's user (else the toolchain's), never
        the sidecar's own process's (HOLDER_USER), which they then cannot signal."""
        user = self.agent.user or self.toolchains[tc_id].user
        if user is None or user.split(":")[0] in (HOLDER_USER.split(":")[0], "nobody"):
            raise RequestError(
                f"routed commands of {self.agent.id} would run as the image's user or as the "
                f"sidecar's own ({HOLDER_USER}): give {self.agent.id} a `user:` (default: yours)"
            )
        return user

    def _down(self, tool: str, toolchain: str, why: str) -> bytes:
        return (
            f"aifo: {tool}: toolchain {toolchain} cannot run it: {why}\n"
            f"  hint: run `aifo apply {self.spec_file}`, then run the command again\n"
        ).encode()

    def _take_slot(self, taken: Taken) -> int | None:
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
                    taken.queued()
                except (OSError, EngineError):
                    pass  # only a sign for the curious: the request waits all the same
            self.stopping.wait(0.02)
        return None

    def _signal(self, ref: str, marker: str, sig: str, user: str, *, family: bool = False) -> None:
        try:
            self.engine.signal_marked(ref, marker, sig, user=user, family=family)
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
        if outcome.reason == "refused":  # what a refused request may write is small
            fields = audit.clip(fields, [REFUSED_RECORD])
        try:
            audit.record(self.session.name, "route", fields, secrets=self.secrets)
        except (StateError, OSError, ValueError):
            pass  # never fail a command over its audit record; `aifo audit` shows the gap

    def _audit_burst(self, counts: Mapping[str, int], first: str) -> None:
        """One record for a burst of refusals (a flood, malformed control messages)."""
        fields = {"agent": self.agent.name, "started": first, "exit_code": REFUSED,
                  "outcome": "refused", "reason": "; ".join(f"{why} (x{n})" for why, n in
                  sorted(counts.items())), "refused": sum(counts.values())}  # fmt: skip
        try:
            audit.record(self.session.name, "route", fields)
        except (StateError, OSError, ValueError):
            pass


REFUSAL = Outcome(REFUSED, "refused")


def _answer(taken: Taken, message: bytes, code: int) -> None:
    """Refuse: whatever the transport raises, the record is still written (by the caller)."""
    try:
        taken.answer(message, code)
    except (OSError, EngineError):
        pass


def _tool_of(data: bytes) -> str:
    fields = data.split(b"\0", 4)
    if len(fields) < 5:
        raise RequestError("malformed request")
    return os.fsdecode(fields[3])
