"""The shared pipeline of plan/apply/destroy/status/recover and `apply --watch`:
load → compile → (lock, recover: aifo.apply.hold) → observe → plan. Each stage is one call;
commands stay thin.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aifo.apply import PARALLEL
from aifo.errors import ApplyFailed, PortInUse, UsageError

if TYPE_CHECKING:
    from aifo.apply.destroy import Destroyed
    from aifo.apply.events import Emit, Notify
    from aifo.apply.execute import ApplyResult
    from aifo.engine.api import Engine, Labelled
    from aifo.issue import Issue
    from aifo.location import Location
    from aifo.model import Session
    from aifo.model.graph import Locate
    from aifo.model.observed import Snapshot
    from aifo.plan.planner import Plan
    from aifo.sessionspec import ResolvedSpec


@dataclass(frozen=True)
class Compiled:
    """A compiled spec: the session, its apply order, and what it was made from."""

    session: Session
    order: list[list[str]]  # graph layers, dependencies first
    warnings: tuple[Issue, ...] = ()  # from the spec stage (e.g. `allow:` opt-ins)
    sources: tuple[Path, ...] = ()  # every file the spec was made of (spec, profiles, .env)
    # where a spec path is written (FILE:LINE:COL), for errors found after compile
    locate: Callable[[tuple[str | int, ...]], Location | None] | None = None


def apparmor(engine: Engine | None = None, *, ask: bool = True) -> bool:
    """The engine fact compile needs (does it confine containers with AppArmor?), found by the
    observe stage (aifo.plan.observe.engine_apparmor: cached per endpoint). On a cache miss
    `engine` (else `connect()`) is asked; `ask=False` reads only the cache, for commands that
    must not talk to Docker."""
    from aifo.plan.observe import engine_apparmor
    from aifo.state.folder import cache_dir

    probe = (lambda: (engine or connect()).security_options()) if ask else None
    return engine_apparmor(cache_dir("engine", create=ask), probe)


def binds_reach(engine: Engine | None, session: str) -> bool:
    """Whether host binds reach `session`'s containers (`Engine.binds_reach`): Docker and Podman
    always, asked of nobody; Swarm only when the session's node is this machine."""
    from aifo.engine.choose import engine_name

    if engine_name() in ("docker", "podman"):
        return True
    return (engine or connect()).binds_reach(session)


def compile_resolved(
    resolved: ResolvedSpec,
    *,
    apparmor: bool,
    writes_state: bool = True,
    engine: Engine | None = None,
    reach: bool | None = None,
) -> Compiled:
    """Compile a resolved spec with the engine's facts given as values (`apparmor`: from
    `apparmor()`; `reach`: whether host binds reach the session's containers, else asked of
    `engine` through `binds_reach()`); compile asks nothing. `writes_state=False` (plan,
    status, exec...) creates no state."""
    from aifo.compile import compile_session
    from aifo.compile.hostcontext import host_context

    name = str(resolved.data["session"])
    if reach is None:
        reach = binds_reach(engine, name)
    context = host_context(name, apparmor=apparmor, writes_state=writes_state, binds_reach=reach)
    session = compile_session(resolved, context=context)
    order = layers(session, locate=resolved.location)
    return Compiled(
        session,
        order,
        tuple(resolved.warnings),
        tuple(resolved.sources),
        locate=lambda path: resolved.location(*path),
    )


def layers(session: Session, *, locate: Locate | None = None) -> list[list[str]]:
    """The apply layers (aifo.model.graph.layers), kept between runs by the graph's structure
    (aifo.state.layercache): a no-op apply of an unchanged spec never imports networkx."""
    from aifo.model import graph
    from aifo.state import layercache

    key = graph.layers_key(session)
    order = layercache.read(key)
    if order is None:
        order = graph.layers(session, locate=locate)
        layercache.write(key, order)
    return order


def resolve(
    spec_file: str | Path, profiles: Sequence[str] = (), session: str | None = None
) -> ResolvedSpec:
    """The spec stage; `session` (from `--session NAME`) replaces the spec's `session:`."""
    from dataclasses import replace

    from aifo.sessionspec import resolve as resolve_spec
    from aifo.state.folder import state_root

    resolved = resolve_spec(spec_file, tuple(profiles), state_dir=state_root())
    if session is None or session == resolved.data.get("session"):
        return resolved
    return replace(resolved, data={**resolved.data, "session": session})


def load(
    spec_file: str | Path,
    profiles: Sequence[str] = (),
    session: str | None = None,
    *,
    writes_state: bool = True,
    engine: Engine | None = None,
) -> Compiled:
    """The spec stage, then the engine's facts (observe's: `apparmor`, asked of `engine` only
    on a cache miss), then compile. SpecError (exit 2) carries every located issue, before any
    engine is asked."""
    resolved = resolve(spec_file, profiles, session)
    return compile_resolved(
        resolved, apparmor=apparmor(engine), writes_state=writes_state, engine=engine
    )


def load_session(
    spec_file: str | Path, profiles: Sequence[str] = (), session: str | None = None
) -> Session:
    """The compiled session, for commands that only read (status, exec, ...): no state."""
    return load(spec_file, profiles, session, writes_state=False).session


def session_of(spec_file: str | None, session: str | None, profiles: Sequence[str] = ()) -> str:
    """The session name: `--session NAME` when given (no spec needed), else the spec's (with
    `profiles` merged under it: the earlier `-f` files may set it)."""
    if session:
        return session
    if not spec_file:
        raise UsageError("give a spec FILE or --session NAME")
    from aifo.sessionspec import resolve as resolve_spec
    from aifo.state.folder import state_root

    return str(resolve_spec(spec_file, tuple(profiles), state_dir=state_root()).data["session"])


def connect() -> Engine:
    """The engine: the Engine API on the docker socket, else the docker CLI (engine.choose).
    Not pinged: a round trip saved; the first real call raises EngineUnavailable with the
    same hint."""
    from aifo.engine.choose import connect as choose

    return choose()


def session_dir(name: str, *, create: bool = True) -> Path:
    """The session's state folder; only commands that write state create it."""
    from aifo.state.folder import session_dir as make

    return make(name, create=create)


def observe(engine: Engine, session: Session) -> Snapshot:
    """The observe stage (aifo.plan.observe)."""
    from aifo.plan.observe import observe as observe_session

    return observe_session(engine, session)


def make_plan(compiled: Compiled, snapshot: Snapshot) -> Plan:
    from aifo.apply.applied import read_applied
    from aifo.plan.planner import plan

    applied = read_applied(session_dir(compiled.session.name, create=False))
    return plan(compiled.session, snapshot, order=compiled.order, applied=applied)


def _warm(module: str) -> threading.Thread:
    """Import `module` on a thread while this one waits for the engine (the lock's create is a
    daemon round trip of ~15 ms): the import's CPU overlaps the daemon's work instead of
    following it. Join before this thread imports anything itself: it holds no import lock
    while it waits, so the two never wait on each other. A failed import is left to the
    command's own import of the module to report (no traceback from the thread)."""
    from importlib import import_module

    def work() -> None:
        try:
            import_module(module)
        except BaseException:  # noqa: BLE001 - reported where the command imports it
            pass

    thread = threading.Thread(target=work, name="aifo-warm", daemon=True)
    thread.start()
    return thread


@dataclass(frozen=True)
class Prepared:
    """What an apply runs on: the plan, the snapshot it was made from, the session's folder."""

    plan: Plan
    before: Snapshot
    directory: Path


@contextmanager
def prepare(
    engine: Engine, compiled: Compiled, *, notify: Notify, lock_timeout: float = 30.0
) -> Iterator[Prepared]:
    """Lock → recover → observe → plan; the session lock is held for the block (the apply).

    The one sequence behind `aifo apply`, `apply --watch` and the transaction tests. The
    engine-side lock (aifo.apply.enginelock) is taken only when there is something to do (a
    journal to recover, changes to make), and then the session is observed and planned again
    under it: a no-op apply makes no mutating call. A session never applied from this state
    folder (no applied record: its first apply, or the first after a destroy) almost surely
    has changes to make, so the lock is taken first and the one observe under it suffices
    (docs/engine.md, "Time to a first command")."""
    from contextlib import ExitStack

    from aifo.apply.applied import APPLIED
    from aifo.apply.enginelock import EngineLock
    from aifo.apply.hold import recover_pending
    from aifo.apply.journal import journal_path
    from aifo.apply.lock import SessionLock

    session = compiled.session
    directory = session_dir(session.name)
    with SessionLock(directory, session.name, lock_timeout), ExitStack() as stack:
        held: list[EngineLock] = []

        def hold() -> None:
            if not held:
                lock = EngineLock(
                    engine,
                    session.name,
                    command="apply",
                    timeout_s=lock_timeout,
                    notify=notify,
                )
                warming = _warm("aifo.apply.execute")
                try:
                    held.append(stack.enter_context(lock))
                finally:
                    warming.join()

        journal = journal_path(directory)
        if journal.exists() or journal.is_symlink():  # a planted link is refused by recovery
            hold()
            recover_pending(engine, session.name, notify=notify)
        elif not (directory / APPLIED).exists():
            hold()
        before = observe(engine, session)
        plan = make_plan(compiled, before)
        if plan.has_changes and not held:
            hold()
            before = observe(engine, session)  # what changed while we waited counts
            plan = make_plan(compiled, before)
        yield Prepared(plan, before, directory)


def execute(
    engine: Engine,
    compiled: Compiled,
    prepared: Prepared,
    *,
    emit: Emit | None = None,
    cancel: threading.Event | None = None,
    parallel: int = PARALLEL,
    wait: bool = False,
    wait_timeout_s: float | None = None,
) -> ApplyResult:
    """Run a prepared plan as one transaction (inside `prepare`'s block: the lock is held)."""
    from contextlib import AbstractContextManager, nullcontext

    from aifo.apply.events import ignore
    from aifo.apply.execute import apply_plan
    from aifo.state.secrets import read_secret

    seeding: AbstractContextManager[Session] = nullcontext(compiled.session)
    if any(v.seed for v in compiled.session.volumes):  # the workspace on a node elsewhere
        from aifo.fork.nodeclone import seeded

        seeding = seeded(compiled.session, prepared.plan, prepared.directory)
    try:
        with seeding as session:
            return apply_plan(
                engine,
                session,
                prepared.plan,
                prepared.before,
                prepared.directory,
                read_secret=read_secret,
                emit=emit or ignore,
                cancel=cancel,
                parallel=parallel,
                wait=wait,
                wait_timeout_s=wait_timeout_s,
            )
    except ApplyFailed as failed:
        raise _located(failed, compiled) from failed.cause


def _located(failed: ApplyFailed, compiled: Compiled) -> ApplyFailed:
    """A failure that names a spec entry (a taken host port's `ports[N]`) as FILE:LINE:COL."""
    from aifo.sessionspec.nodes import format_path

    cause = failed.cause
    if not isinstance(cause, PortInUse) or not cause.spec_path or compiled.locate is None:
        return failed
    path = cause.spec_path
    plain = PortInUse(cause.host_ip, cause.host_port, cause.protocol)
    located = plain.at(path, format_path(path), compiled.locate(path))
    return ApplyFailed(located, failed.undo_failures)


def apply_compiled(
    engine: Engine,
    compiled: Compiled,
    *,
    emit: Emit | None = None,
    notify: Notify | None = None,
    cancel: threading.Event | None = None,
    parallel: int = PARALLEL,
    lock_timeout: float = 30.0,
) -> ApplyResult:
    """`prepare` then `execute`, as `aifo apply --yes` (for `--watch` and tests)."""
    with prepare(
        engine, compiled, notify=notify or (lambda _m: None), lock_timeout=lock_timeout
    ) as prepared:
        return execute(engine, compiled, prepared, emit=emit, cancel=cancel, parallel=parallel)


@contextmanager
def prepare_destroy(
    engine: Engine,
    name: str,
    *,
    command: str = "destroy",
    notify: Notify,
    lock_timeout: float = 30.0,
) -> Iterator[Labelled]:
    """Lock (both session locks, aifo.apply.hold.locked) → recover → list the session's
    labelled objects; the locks are held for the block.

    The one destroy sequence behind `aifo destroy` and `apply --watch --down-on-exit`."""
    from aifo.apply.hold import locked, recover_pending

    with locked(engine, name, command=command, notify=notify, lock_timeout=lock_timeout):
        recover_pending(engine, name, notify=notify)
        yield engine.labelled(name)


def execute_destroy(
    engine: Engine,
    name: str,
    found: Labelled,
    *,
    volumes: bool = False,
    timeout_s: float = 10.0,
    emit: Emit | None = None,
) -> Destroyed:
    """Inside `prepare_destroy`'s block: the egress proxy's decisions audited while it is still
    there, every labelled object removed, then the session's transient state forgotten."""
    from aifo.apply.destroy import destroy
    from aifo.apply.events import ignore
    from aifo.attach.cache import forget as forget_cached
    from aifo.egress.collect import collect_quietly, has_proxy
    from aifo.state.audit import AUDIT_FILE
    from aifo.state.folder import forget_session

    if has_proxy(name, found.containers):  # its log goes with it: audit its decisions first
        collect_quietly(engine, name, session_dir(name))
    result = destroy(
        engine, name, volumes=volumes, found=found, timeout_s=timeout_s, emit=emit or ignore
    )
    forget_cached(name)
    # under the lock: a waiter re-locks the new file (apply/lock.py); the audit log outlives it
    forget_session(name, keep=(AUDIT_FILE,))
    return result
