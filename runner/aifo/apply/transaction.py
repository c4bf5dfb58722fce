"""Journaled steps with undo: run a batch in parallel, roll everything back, commit and finish.

A step is one mutating engine call (or one hook). Its record and inverse are fsync'd before it
runs; its outcome is appended after. A failure stops the batch (queued steps never start; running
ones finish) and the caller rolls back: every recorded inverse, newest first, past failures.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_any
from dataclasses import dataclass, field
from typing import Any

from aifo.apply import PARALLEL
from aifo.apply.events import Emit, Event
from aifo.apply.journal import Journal
from aifo.apply.ops import Op, OpContext, describe, op, run_op
from aifo.apply.postcondition import Fingerprint
from aifo.engine.api import Engine
from aifo.errors import Cancelled, UndoFailed

COMMIT_ATTEMPTS = 3


@dataclass(eq=False)
class Step:
    """One journaled engine call (or hook) of an apply, and its undo."""

    op: str  # what runs: an engine method name, or "hook"
    rid: str  # the resource it belongs to (graph id)
    args: dict[str, Any]  # journaled: names, ids, digests — never secret values
    undo: Op | None
    fn: Callable[[], dict[str, Any] | None]
    seq: int = 0
    status: str = "pending"  # pending | running | done | failed
    result: dict[str, Any] | None = None

    def record(self) -> dict[str, Any]:
        return {
            "type": "step",
            "seq": self.seq,
            "op": self.op,
            "rid": self.rid,
            "args": self.args,
            "undo": self.undo,
        }


@dataclass(eq=False)
class Chain:
    """Steps that run one after another (a container's create, stop of the one it replaces,
    start, hooks), once every chain named in `needs` has finished; `ready` runs first (waiting
    for the dependencies' readiness) and may raise."""

    key: str
    steps: list[Step]
    needs: set[str] = field(default_factory=set)
    ready: Callable[[], None] | None = None


class Transaction:
    def __init__(
        self,
        engine: Engine,
        session: str,
        journal: Journal,
        before: Fingerprint,
        *,
        emit: Emit,
        cancel: threading.Event,
        parallel: int = PARALLEL,
    ) -> None:
        self.engine = engine
        self.session = session
        self.journal = journal
        self.before = before
        self.emit = emit
        self.cancel = cancel
        self.steps: list[Step] = []
        self._abort = threading.Event()
        self.parallel = max(1, parallel)
        self._pool = ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="aifo")
        self.undo_context = OpContext(engine, session, before)  # rollback's (see `recreated`)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("interrupted")

    def run(self, steps: Sequence[Step]) -> None:
        """Journal the batch (one fsync), run it in parallel, raise the first failure."""
        if not steps:
            return
        self.check()
        for step in steps:
            self.steps.append(step)
            step.seq = len(self.steps)
        self.journal.append(*(s.record() for s in steps), sync=True)
        if len(steps) == 1:
            self._execute(steps[0])
        else:
            futures: list[Future[None]] = [self._pool.submit(self._execute, s) for s in steps]
            errors = [f.exception() for f in futures]
            failed = [e for e in errors if e is not None]
            if failed:
                raise failed[0]
        self.check()

    def halted(self) -> bool:
        """A step failed or the apply was interrupted: nothing more may start."""
        return self._abort.is_set() or self.cancel.is_set()

    def is_set(self) -> bool:
        """`halted`, as a flag that ends readiness waits early (aifo.apply.readiness.Flag)."""
        return self.halted()

    def run_chains(self, chains: Sequence[Chain]) -> None:
        """Journal every chain's steps (one fsync), then run each chain as soon as the chains it
        needs are done, up to `parallel` at once. The first failure stops everything not yet
        started; running chains finish their current step; then it is raised."""
        if not chains:
            return
        self.check()
        records = []
        for chain in chains:
            for step in chain.steps:
                self.steps.append(step)
                step.seq = len(self.steps)
                records.append(step.record())
        self.journal.append(*records, sync=True)
        keys = {c.key for c in chains}
        waiting = list(chains)
        done: set[str] = set()
        running: dict[Future[None], Chain] = {}
        failure: BaseException | None = None
        while waiting or running:
            if failure is None and not self.halted():
                for chain in [c for c in waiting if not (c.needs & keys) - done]:
                    waiting.remove(chain)
                    running[self._pool.submit(self._chain, chain)] = chain
            if not running:
                break  # failed or halted: what waits never starts
            finished, _ = wait_any(running, return_when=FIRST_COMPLETED)
            for future in finished:
                chain = running.pop(future)
                error = future.exception()
                if error is None:
                    done.add(chain.key)
                elif failure is None:
                    failure = error
                    self._abort.set()
        if failure is not None:
            raise failure
        self.check()

    def _chain(self, chain: Chain) -> None:
        if self.halted():
            return
        if chain.ready is not None:
            chain.ready()
        for step in chain.steps:
            if self.halted():
                return
            self._execute(step)

    def _execute(self, step: Step) -> None:
        if self._abort.is_set() or self.cancel.is_set():
            return  # stays pending: never ran, nothing to undo
        step.status = "running"
        start = time.monotonic()
        self.emit(Event("action.start", id=step.rid, op=step.op, data=_target(step)))
        try:
            step.result = step.fn()
        except BaseException as exc:
            step.status = "failed"
            self._abort.set()
            self.journal.append({"type": "failed", "seq": step.seq, "error": str(exc)[:500]})
            self.emit(
                Event(
                    "action.failed",
                    id=step.rid,
                    op=step.op,
                    message=str(exc),
                    duration_s=_since(start),
                    data=_target(step),
                )
            )
            raise
        step.status = "done"
        self.journal.append({"type": "done", "seq": step.seq, "result": step.result})
        self.emit(
            Event(
                "action.done", id=step.rid, op=step.op, duration_s=_since(start), data=_target(step)
            )
        )

    def rollback(self) -> list[UndoFailed]:
        """Run every recorded inverse, newest first; return the ones that failed."""
        self.emit(Event("rollback.start", data={"steps": len(self.steps)}))
        return rollback_steps(
            self.undo_context,
            [(s.rid, s.undo, s.result, s.status) for s in self.steps],
            self.emit,
        )

    def commit(self, ops: list[Op], applied: dict[str, Any]) -> list[str]:
        """Past this point the apply is rolled forward: record the marker, then finish it."""
        self.journal.append({"type": "commit", "ops": ops, "applied": applied}, sync=True)
        self.emit(Event("commit.start", data={"ops": len(ops)}))
        ctx = OpContext(self.engine, self.session, self.before)
        return finish_commit(ctx, ops, set(), self.journal, self.emit)


def rollback_steps(
    ctx: OpContext,
    steps: Sequence[tuple[str, Op | None, Any, str]],
    emit: Emit,
) -> list[UndoFailed]:
    """Every undo, newest first. Adjacent container discards (they commute) become one call."""
    failures: list[UndoFailed] = []
    merged: list[tuple[str, Op, Any]] = []
    for rid, undo, result, status in reversed(steps):
        if undo is None or status == "pending":
            continue
        if undo.get("op") == "discard_containers":
            merged.append((rid, undo, result))
            continue
        _undo_discards(ctx, merged, emit, failures)
        _undo(ctx, rid, undo, result, emit, failures)
    _undo_discards(ctx, merged, emit, failures)
    return failures


def _undo_discards(
    ctx: OpContext, merged: list[tuple[str, Op, Any]], emit: Emit, failures: list[UndoFailed]
) -> None:
    if not merged:
        return
    ids: list[str] = []
    unknown: list[str] = []  # names whose create has no recorded id: looked up, guarded
    for _rid, undo, result in merged:
        args = undo.get("args") or {}
        ids += [str(i) for i in args.get("ids") or []]
        if isinstance(result, dict) and result.get("id"):
            ids.append(str(result["id"]))
        elif not args.get("ids"):
            unknown += [str(n) for n in args.get("names") or []]
    rid = ",".join(dict.fromkeys(r for r, _u, _res in merged))
    if unknown:
        operation = op("discard_containers", ids=list(dict.fromkeys(ids)), lookup=unknown)
    else:
        operation = op("discard_containers", ids=list(dict.fromkeys(ids)))
    merged.clear()
    _undo(ctx, rid, operation, None, emit, failures)


def _undo(
    ctx: OpContext, rid: str, undo: Op, result: Any, emit: Emit, failures: list[UndoFailed]
) -> None:
    start = time.monotonic()
    try:
        run_op(ctx, undo, result)
    except Exception as exc:  # noqa: BLE001 - undo continues past every failure, by design
        failure = UndoFailed(f"{describe(undo)} ({rid}): {exc}")
        failure.__cause__ = exc
        failures.append(failure)
        emit(Event("undo.failed", id=rid, op=str(undo.get("op")), message=str(exc)))
        return
    emit(Event("undo.done", id=rid, op=str(undo.get("op")), duration_s=_since(start)))


def finish_commit(
    ctx: OpContext, ops: Sequence[Op], done: set[int], journal: Journal | None, emit: Emit
) -> list[str]:
    """Run the commit ops not yet done, each retried a few times; return the ones that failed."""
    failures: list[str] = []
    for index, operation in enumerate(ops):
        if index in done:
            continue
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                run_op(ctx, operation)
            except Exception as exc:  # noqa: BLE001 - roll forward: retry, then report
                if attempt + 1 == COMMIT_ATTEMPTS:
                    failures.append(f"{describe(operation)}: {exc}")
                    emit(Event("undo.failed", op=str(operation.get("op")), message=str(exc)))
                else:
                    time.sleep(0.2 * (attempt + 1))
                continue
            if journal is not None:
                journal.append({"type": "commit.done", "index": index})
            emit(Event("commit.done", op=str(operation.get("op")), message=describe(operation)))
            break
    return failures


def _target(step: Step) -> dict[str, Any]:
    name = step.args.get("name") or step.args.get("ref")
    return {"docker_name": name} if isinstance(name, str) else {}


def _since(start: float) -> float:
    return time.monotonic() - start
