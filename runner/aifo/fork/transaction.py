"""`fork new N` as one transaction: every git and engine step journaled first, with its inverse.

The journal has the apply journal's format (aifo.apply.journal), in `<state>/forks/<s>/`: a
`step` record (fsync'd) before each clone and each fork's apply, `done` after it, and a
`commit` record carrying the fork records. Any failure (or Ctrl-C) runs every recorded inverse,
newest first. A crash is finished by `recover` on the next fork command: rolled back before the
commit record, forward (the records written) after it. Inverses are guarded and repeatable: a
clone is removed only inside a `.aifo-forks` folder; a fork session is destroyed by its label
only (it had no objects before: `new_forks` checks).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aifo.apply.cancel import cancel_on_signals
from aifo.apply.journal import Journal, discard, journal_path, load
from aifo.engine.git import Git
from aifo.errors import AifoError, Cancelled, ForkError
from aifo.fork import gitsteps, records
from aifo.fork.layout import branch, clone_path, fork_session
from aifo.fork.records import ForkRecord

PARALLEL = 4  # fork applies at once: each is a transaction of its own, with its own lock


@dataclass(frozen=True)
class Request:
    """What `fork new` was asked to make, resolved against the main repository."""

    session: str
    repo: Path
    numbers: tuple[int, ...]
    base: str  # the commit the forks start from (the snapshot's parent with --include-dirty)
    start: str  # the commit each branch points at (the snapshot, or the base)
    spec: str
    profiles: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    includes: tuple[Path, ...] = ()


@dataclass
class Steps:
    """The engine side, injected by the command (aifo.commands.fork wires the pipeline):
    `apply(number, clone, cancel)` applies fork `number`'s derived session and returns the
    volume holding its workspace on a node elsewhere (None: the clone is bound);
    `destroy(name)` removes a session's objects by label; `exists(name)` says whether it has
    any."""

    apply: Callable[[int, Path, threading.Event], str | None]
    destroy: Callable[[str], None]
    exists: Callable[[str], bool]
    notify: Callable[[str], None] = field(default=lambda _m: None)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class _Tx:
    """The journal and the recorded steps of one `fork new`."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.seq = 0
        self.lock = threading.Lock()

    def step(self, op: str, rid: str, args: dict[str, Any], undo: dict[str, Any]) -> int:
        with self.lock:
            self.seq += 1
            seq = self.seq
        record = {"type": "step", "seq": seq, "op": op, "rid": rid, "args": args, "undo": undo}
        self.journal.append(record, sync=True)
        return seq

    def done(self, seq: int) -> None:
        self.journal.append({"type": "done", "seq": seq, "result": None})


def new_forks(request: Request, folder: Path, *, git: Git, steps: Steps) -> list[ForkRecord]:
    """Make every fork of `request`, or none. The caller holds the forks' lock (`folder`)."""
    for number in request.numbers:
        name = fork_session(request.session, number)
        if steps.exists(name):
            raise ForkError(
                f"session {name!r} (fork {number}) has objects on the engine already",
                hint=f"remove them with `aifo destroy --session {name}`, or pick another number",
            )
        if clone_path(request.repo, request.session, number).exists():
            raise ForkError(
                f"{clone_path(request.repo, request.session, number)} exists already",
                hint="remove that folder, or pick another fork number",
            )
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    header = {"session": request.session, "pid": os.getpid(), "started": _now(), "kind": "fork"}
    tx = _Tx(Journal.create(journal_path(folder), header))
    cancel = threading.Event()  # SIGINT/SIGTERM: running steps finish, then all is undone
    try:
        with cancel_on_signals(cancel, notify=steps.notify):
            made = _run(request, tx, git=git, steps=steps, cancel=cancel)
            # A signal may be handled only now: the kernel can deliver it to a worker thread
            # while the main thread waits for the forks, which then ran to their end.
            _stop_if(cancel)
        tx.journal.append(
            {"type": "commit", "ops": [], "applied": {"records": [r.to_json() for r in made]}},
            sync=True,
        )
    except BaseException as exc:
        failures = _rollback(load(tx.journal.path).steps, steps)
        tx.journal.close()
        _finish(tx.journal.path, failures)
        if not isinstance(exc, AifoError):  # Ctrl-C outside the handler, or a bug: as it is
            raise
        raise ForkError(_failed(exc.message, failures), hint=exc.hint) from exc
    for record in made:
        records.write(folder, record)
    tx.journal.remove()
    return made


def _failed(cause: str, failures: Sequence[str]) -> str:
    text = f"fork new failed: {cause}\nrolled back: no clone, branch or container of it is left"
    if failures:
        text = f"fork new failed: {cause}\nrollback was incomplete:\n  - " + "\n  - ".join(failures)
    return text


def _stop_if(cancel: threading.Event) -> None:
    if cancel.is_set():
        raise Cancelled("interrupted (SIGINT/SIGTERM)")


def _run(
    request: Request, tx: _Tx, *, git: Git, steps: Steps, cancel: threading.Event
) -> list[ForkRecord]:
    """Clones one after the other (they are disk-bound); each fork's apply starts as soon as its
    clone is there, so the engine's work overlaps the next clone."""
    user = gitsteps.identity(git, request.repo)
    clones: dict[int, Path] = {}
    volumes: dict[int, str] = {}

    def apply_one(number: int) -> None:
        _stop_if(cancel)
        name = fork_session(request.session, number)
        undo = {"op": "destroy_session", "args": {"name": name}}
        seq = tx.step("apply", f"fork/{number}", {"name": name}, undo)
        volume = steps.apply(number, clones[number], cancel)
        if volume:
            volumes[number] = volume
        tx.done(seq)

    def guarded(number: int) -> None:
        try:
            apply_one(number)
        except BaseException:
            cancel.set()  # the other forks stop and their applies roll themselves back
            raise

    futures = []
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(request.numbers))) as pool:
        try:
            for number in request.numbers:
                _stop_if(cancel)
                dest = clone_path(request.repo, request.session, number)
                undo = {"op": "remove_clone", "args": {"path": str(dest)}}
                seq = tx.step("clone", f"fork/{number}", {"path": str(dest)}, undo)
                gitsteps.clone(
                    git, request.repo, dest, branch=branch(request.session, number),
                    start=request.start, user=user,
                )  # fmt: skip
                gitsteps.copy_includes(request.repo, dest, list(request.includes))
                tx.done(seq)
                clones[number] = dest
                futures.append(pool.submit(guarded, number))
        except BaseException:
            cancel.set()  # the pool's exit waits for the applies already running
            raise
    first = next((e for e in (f.exception() for f in futures) if e is not None), None)
    if first is not None:
        raise first
    created = _now()
    return [
        ForkRecord(
            fork=n,
            session=request.session,
            fork_session=fork_session(request.session, n),
            branch=branch(request.session, n),
            path=str(clones[n]),
            repo=str(request.repo),
            base=request.base,
            created=created,
            spec=request.spec,
            profiles=request.profiles,
            agents=request.agents,
            volume=volumes.get(n, ""),
        )  # fmt: skip
        for n in request.numbers
    ]


def _undo(op: dict[str, Any] | None, steps: Steps) -> None:
    if not op:
        return
    args = dict(op.get("args") or {})
    if op.get("op") == "remove_clone":
        gitsteps.remove_clone(Path(str(args["path"])))
    elif op.get("op") == "destroy_session":
        steps.destroy(str(args["name"]))
    else:
        raise ForkError(f"unknown fork journal operation {op.get('op')!r}")


def _rollback(recorded: Sequence[Any], steps: Steps) -> list[str]:
    """Every recorded inverse, newest first, past individual failures; their messages."""
    failures: list[str] = []
    for step in reversed(list(recorded)):
        try:
            _undo(step.undo, steps)
        except Exception as exc:  # noqa: BLE001 - run every undo, report them together
            failures.append(f"{step.op} {step.rid}: {exc}")
    return failures


def _finish(path: Path, failures: Sequence[str]) -> None:
    """Drop the journal; keep it beside (never in the way) when an undo failed."""
    if failures:
        os.replace(path, path.with_name(f"journal.failed-{int(time.time())}-{os.getpid()}.jsonl"))
    else:
        discard(path)


def recover(folder: Path, steps: Steps) -> str | None:
    """Finish a `fork new` that died (the caller holds the forks' lock); what was done."""
    path = journal_path(folder)
    if not path.exists():
        return None
    state = load(path)
    if state.committed:
        for data in (state.applied or {}).get("records") or []:
            records.write(folder, ForkRecord.from_json(data))
        discard(path)
        return f"finished the unfinished `fork new` of session {state.session!r} (PID {state.pid})"
    failures = _rollback(state.steps, steps)
    _finish(path, failures)
    text = f"rolled back the unfinished `fork new` of session {state.session!r} (PID {state.pid})"
    if failures:
        text += " with problems:\n  - " + "\n  - ".join(failures)
    return text
