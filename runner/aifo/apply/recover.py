"""Finishing an apply that died (SIGKILL, power loss) from its journal and the engine alone.

Before the journal's `commit` record: roll back (every recorded undo, newest first; each undo is
guarded, so steps whose outcome was never recorded are handled too). After it: roll forward
(finish the commit ops). The spec is not needed: it may be gone.

The journal is checked before anything runs (aifo.apply.journal.load: ours, private, well
formed, of the session being recovered; aifo.apply.ops.check_ops: only known operations), and
every operation checks the session label of what it touches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aifo.apply.applied import write_applied
from aifo.apply.events import Emit, Event, ignore
from aifo.apply.journal import JournalState, discard, keep_failed, load, open_append
from aifo.apply.ops import OpContext, check_ops
from aifo.apply.postcondition import check_postcondition
from aifo.apply.transaction import finish_commit, rollback_steps
from aifo.engine.api import Engine, Want
from aifo.errors import JournalRefused


@dataclass(frozen=True)
class Recovery:
    """What recovering an unfinished apply did."""

    path: Path
    session: str
    pid: int | None
    direction: str  # "rolled back" | "rolled forward"
    failures: tuple[str, ...] = ()

    def message(self) -> str:
        text = f"{self.direction} the unfinished apply of session {self.session!r}"
        if self.failures:
            text += " with problems:\n  - " + "\n  - ".join(self.failures)
        return text


def announce(state: JournalState) -> str:
    who = f"PID {state.pid}" if state.pid else "an unknown process"
    verb = "finishing its commit" if state.committed else "rolling it back"
    return f"found an unfinished apply from {who} ({state.path}); {verb}"


def recover(engine: Engine, path: Path, session: str, *, emit: Emit = ignore) -> Recovery:
    """Roll the journal at `path` (of `session`) back or forward, then remove it. Caller holds
    the session's locks. JournalRefused, before anything runs, for a journal not to be run."""
    state = load(path, session)
    try:
        check_ops([s.undo for s in state.steps if s.undo is not None] + state.commit_ops)
    except (ValueError, RecursionError) as exc:
        raise JournalRefused(
            f"{path}: {exc}", hint=f"look at it, and remove it (rm {path}) if it is not yours"
        ) from None
    before = dict(state.header.get("before") or {})
    ctx = OpContext(engine, session, before)
    emit(Event("recover.start", message=announce(state), data={"pid": state.pid}))
    if state.committed:
        writer = open_append(path)
        try:
            failures = finish_commit(ctx, state.commit_ops, state.commit_done, writer, emit)
        finally:
            writer.close()
        if state.applied is not None:
            write_applied(path.parent, state.applied)
        direction = "rolled forward"
    else:
        steps = [(s.rid, s.undo, s.result, s.status) for s in state.steps]
        undone = rollback_steps(ctx, steps, emit)
        undone += check_postcondition(engine, session, before, _want(before), ctx.recreated)
        failures = [str(f) for f in undone]
        direction = "rolled back"
    if failures:  # keep the evidence, but never block the next command on it
        keep_failed(path)
    else:
        discard(path)
    result = Recovery(path, session, state.pid, direction, tuple(failures))
    emit(Event("recover.done", message=result.message(), data={"ok": not failures}))
    return result


def _want(before: dict[str, object]) -> Want:
    containers = before.get("containers")
    networks = before.get("networks")
    volumes = before.get("volumes")
    return Want(
        containers=tuple(containers) if isinstance(containers, dict) else (),
        networks=tuple(networks) if isinstance(networks, dict) else (),
        volumes=tuple(str(v) for v in volumes) if isinstance(volumes, list) else (),
    )
