"""apply_plan: run a plan as one transaction — all of it, or none of it.

The caller holds the session lock and has recovered any unfinished journal (aifo.pipeline).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aifo import __version__
from aifo.apply import PARALLEL
from aifo.apply.applied import write_applied
from aifo.apply.events import Emit, Event, ignore
from aifo.apply.journal import JOURNAL, Journal, keep_failed
from aifo.apply.postcondition import check_postcondition, fingerprint
from aifo.apply.scheduler import Scheduler
from aifo.apply.transaction import Transaction
from aifo.engine.api import Engine
from aifo.errors import ApplyFailed, CommitIncomplete
from aifo.model import Session
from aifo.model.observed import ObservedContainer, Snapshot
from aifo.plan.observe import want_of
from aifo.plan.planner import Plan
from aifo.state.secrets import SecretReader


@dataclass(frozen=True)
class ApplyResult:
    """A committed apply: its plan, duration and containers."""

    plan: Plan
    duration_s: float
    container_ids: dict[str, str] = field(default_factory=dict)  # graph id -> container id
    commit_failures: tuple[str, ...] = ()
    # graph id -> the container as inspected when the apply verified it (running or not)
    verified: dict[str, ObservedContainer] = field(default_factory=dict)


def apply_plan(
    engine: Engine,
    session: Session,
    plan: Plan,
    before: Snapshot,
    state_dir: Path,
    *,
    read_secret: SecretReader,
    emit: Emit = ignore,
    cancel: threading.Event | None = None,
    parallel: int = PARALLEL,
    wait: bool = False,
    wait_timeout_s: float | None = None,
) -> ApplyResult:
    """Make Docker match `session`. On any failure roll back and raise ApplyFailed.
    `wait`: also wait until every container is ready (healthy, or running)."""
    start = time.monotonic()
    if not plan.has_changes:
        if wait:  # nothing changed, so nothing to roll back: NotReady (exit 1) as it is
            from aifo.apply.readiness import wait_with_rows, waits_for_all

            refs = {a.id: a.docker_name for a in plan.actions}
            waits = waits_for_all(
                session.containers, lambda rid: refs.get(rid, rid), wait_timeout_s
            )
            wait_with_rows(engine, waits, cancel or threading.Event(), emit)
        emit(Event("apply.done", message="no changes", duration_s=0.0, data={"changes": 0}))
        return ApplyResult(plan, 0.0, {a.id: getattr(a, "observed_id", "") for a in plan.actions})
    cancel = cancel if cancel is not None else threading.Event()
    collect_before_change(engine, session.name, plan, state_dir)
    before_fp = fingerprint(before)
    header = {
        "session": session.name,
        "pid": os.getpid(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "aifo": __version__,
        "spec": session.spec_file,
        "before": before_fp,
    }
    journal = Journal.create(state_dir / JOURNAL, header)
    tx = Transaction(
        engine, session.name, journal, before_fp, emit=emit, cancel=cancel, parallel=parallel
    )
    try:
        try:
            outcome = Scheduler(
                tx, session, plan, read_secret, wait=wait, wait_timeout_s=wait_timeout_s
            ).run()
            tx.check()
        except BaseException as exc:
            failures = tx.rollback()
            failures += check_postcondition(
                engine, session.name, before_fp, want_of(session), tx.undo_context.recreated
            )
            if failures:  # the evidence, as recovery keeps it (journal.keep_failed)
                journal.close()
                keep_failed(journal.path)
            else:
                journal.remove()
            emit(
                Event(
                    "apply.done",
                    message="failed, rolled back",
                    duration_s=time.monotonic() - start,
                    data={
                        "ok": False,
                        "error": str(exc),
                        "undo_failures": [str(f) for f in failures],
                    },
                )
            )
            if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
                raise
            raise ApplyFailed(exc, failures) from exc
        commit_failures = tx.commit(outcome.commit_ops, outcome.applied)
        write_applied(state_dir, outcome.applied)
        journal.remove()
    finally:
        tx.close()
        journal.close()
    duration = time.monotonic() - start
    emit(
        Event(
            "apply.done",
            message=plan.summary(),
            duration_s=duration,
            data={"ok": not commit_failures, "changes": len(plan.changes), **plan.counts()},
        )
    )
    if commit_failures:
        raise CommitIncomplete(
            "applied, but finishing the commit failed:\n  - " + "\n  - ".join(commit_failures),
            hint="run `aifo apply` again to remove what was left over",
        )
    return ApplyResult(
        plan, duration, outcome.container_ids, tuple(commit_failures), outcome.verified
    )


def collect_before_change(engine: Engine, session: str, plan: Plan, state_dir: Path) -> None:
    """The egress proxy's log goes with its container: audit its decisions before a replace or
    removal. Also before any container of an egress session is replaced or removed: a record's
    client is named by the address the engine reports now (docs/egress.md, "Naming the
    client"), so the requests of a container about to go are named while it still holds it."""
    from aifo.egress.sidecar import PROXY

    containers = [a for a in plan.actions if a.kind == "container"]
    if any(a.id.endswith(f"/{PROXY}") for a in containers) and any(
        a.op in ("replace", "remove") for a in containers
    ):
        from aifo.egress.collect import collect_quietly  # only then: a session without egress

        collect_quietly(engine, session, state_dir)
