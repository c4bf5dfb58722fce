"""The write-ahead journal of an apply: `<state>/sessions/<s>/journal.jsonl`, JSON Lines.

    {"type": "begin", "version": 1, "session", "pid", "started", "aifo", "before": {...}}
    {"type": "step", "seq", "op", "rid", "args", "undo": {"op", "args"} | null}   (fsync'd first)
    {"type": "done", "seq", "result": {...} | null}
    {"type": "failed", "seq", "error"}
    {"type": "commit", "ops": [{"op", "args"}...], "applied": {...}}             (fsync'd)

A step record is written and fsync'd before its engine call runs; its result is appended after.
Past the `commit` record a crash is rolled forward (finish the ops); before it, rolled back (run
every recorded undo in reverse). Records carry names, ids and digests, never secret values.

A journal is untrusted input when it is read back: it is opened without following links, only
when it is ours and private (aifo.state.private), and every record must have the shape above
(`JournalRefused` otherwise: nothing of it runs). The operations it names are checked by
aifo.apply.ops before any runs, and each checks the object's session label itself.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aifo.errors import JournalRefused, StateError
from aifo.state.private import Unsafe, open_file, read_bytes

JOURNAL = "journal.jsonl"
CAP = 64 << 20  # bytes: a journal of thousands of steps is a few MiB


def journal_path(session_dir: Path) -> Path:
    """Where a session's unfinished apply leaves its journal."""
    return session_dir / JOURNAL


VERSION = 1


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """Append-only, thread-safe writer. `sync()` makes everything written so far durable."""

    def __init__(self, path: Path, handle: Any) -> None:
        self.path = path
        self._handle = handle
        self._lock = threading.Lock()

    @classmethod
    def create(cls, path: Path, header: dict[str, Any]) -> Journal:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        except FileExistsError as exc:
            raise StateError(
                f"an unfinished apply's journal exists: {path}",
                hint=f"run `aifo recover {path}` first",
            ) from exc
        except OSError as exc:
            raise StateError(f"cannot create the journal {path}: {exc}") from exc
        journal = cls(path, os.fdopen(fd, "a", encoding="utf-8"))
        journal.append({"type": "begin", "version": VERSION, **header}, sync=True)
        _fsync_dir(path.parent)
        return journal

    def append(self, *records: dict[str, Any], sync: bool = False) -> None:
        text = "".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n" for r in records)
        with self._lock:
            try:
                self._handle.write(text)
                self._handle.flush()
                if sync:
                    os.fsync(self._handle.fileno())
            except OSError as exc:
                raise StateError(f"cannot write the journal {self.path}: {exc}") from exc

    def sync(self) -> None:
        self.append(sync=True)

    def close(self) -> None:
        with self._lock:
            if not self._handle.closed:
                self._handle.close()

    def remove(self) -> None:
        """The apply is over (committed or rolled back): drop the journal, durably."""
        self.close()
        discard(self.path)


def keep_failed(path: Path) -> Path:
    """Keep a journal whose undo or commit had failures as `journal.failed-<time>-<pid>.jsonl`
    beside it (the evidence), out of the next command's way."""
    import time

    kept = path.with_name(f"journal.failed-{int(time.time())}-{os.getpid()}.jsonl")
    os.replace(path, kept)
    _fsync_dir(path.parent)
    return kept


def open_append(path: Path) -> Journal:
    """A writer appending to an existing journal (recovery's commit records)."""
    try:
        fd = open_file(path, os.O_WRONLY | os.O_APPEND)
    except OSError as exc:
        raise StateError(f"cannot write the journal {path}: {exc}") from exc
    return Journal(path, os.fdopen(fd, "a", encoding="utf-8"))


def discard(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        return
    _fsync_dir(path.parent)


@dataclass
class Recorded:
    """A step as read back from a journal."""

    seq: int
    op: str
    rid: str
    args: dict[str, Any]
    undo: dict[str, Any] | None
    status: str = "unknown"  # unknown (no outcome recorded) | done | failed
    result: dict[str, Any] | None = None


@dataclass
class JournalState:
    """A journal as read back: its header, steps and commit."""

    path: Path
    header: dict[str, Any]
    steps: list[Recorded] = field(default_factory=list)
    committed: bool = False
    commit_ops: list[dict[str, Any]] = field(default_factory=list)
    applied: dict[str, Any] | None = None
    commit_done: set[int] = field(default_factory=set)

    @property
    def pid(self) -> int | None:
        pid = self.header.get("pid")
        return pid if isinstance(pid, int) else None

    @property
    def session(self) -> str:
        return str(self.header.get("session", ""))


def load(path: Path, session: str | None = None) -> JournalState:
    """Parse and check a journal; a torn last line (the crash hit mid-write) is ignored.
    `session`: the session it must belong to. JournalRefused when it must not be run."""
    hint = f"look at it, and remove it (rm {path}) if it is not from an apply of yours"
    try:
        data = read_bytes(path, CAP)
    except Unsafe as exc:
        raise JournalRefused(f"refusing the journal: {exc.message}", hint=exc.hint) from None
    except OSError as exc:
        raise StateError(f"cannot read the journal {path}: {exc}") from exc
    if data is None:
        raise StateError(f"cannot read the journal {path}: it does not exist")
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise JournalRefused(f"{path}: not an aifo journal (not UTF-8)", hint=hint) from None
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            if number == len(lines):
                break
            raise JournalRefused(f"{path}:{number}: corrupt journal record", hint=hint) from exc
        if not isinstance(record, dict):
            raise JournalRefused(f"{path}:{number}: not a journal record", hint=hint)
        records.append(record)
    try:
        state = _parse(path, records)
    except (KeyError, TypeError, ValueError) as exc:
        raise JournalRefused(f"{path}: malformed journal ({exc})", hint=hint) from None
    if session is not None and state.session != session:
        raise JournalRefused(
            f"{path} is a journal of session {state.session!r}, not of {session!r}", hint=hint
        )
    return state


def _int(value: Any, what: str) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"{what} is not a count")
    return value


def _op(value: Any, what: str) -> dict[str, Any]:
    """An operation record, `{"op": str, "args": {...}}` (its name is ops' to check)."""
    if not isinstance(value, dict) or type(value.get("op")) is not str:
        raise ValueError(f"{what} is not an operation")
    if not isinstance(value.get("args", {}), dict):
        raise ValueError(f"{what}'s args are not an object")
    return value


def _parse(path: Path, records: list[dict[str, Any]]) -> JournalState:
    if not records or records[0].get("type") != "begin":
        raise ValueError("no begin record")
    header = records[0]
    if header.get("version") != VERSION:
        raise ValueError(f"version {header.get('version')!r}, not {VERSION}")
    if type(header.get("session")) is not str or not header["session"]:
        raise ValueError("the begin record names no session")
    if not isinstance(header.get("before", {}), dict):
        raise ValueError("the begin record's `before` is not an object")
    state = JournalState(path, header)
    by_seq: dict[int, Recorded] = {}
    for record in records[1:]:
        kind = record.get("type")
        if kind == "step":
            undo = record.get("undo")
            args = record.get("args") or {}
            if not isinstance(args, dict):
                raise ValueError("a step's args are not an object")
            step = Recorded(
                _int(record["seq"], "a step's seq"),
                str(record["op"]),
                str(record.get("rid", "")),
                dict(args),
                None if undo is None else _op(undo, "a step's undo"),
            )
            by_seq[step.seq] = step
            state.steps.append(step)
        elif kind in ("done", "failed"):
            seq = _int(record["seq"], f"a {kind} record's seq")
            if seq in by_seq:
                by_seq[seq].status = kind
                if kind == "done":
                    result = record.get("result")
                    by_seq[seq].result = result if isinstance(result, dict) else None
        elif kind == "commit":
            ops = record.get("ops") or []
            applied = record.get("applied")
            if not isinstance(ops, list) or not isinstance(applied, dict | None):
                raise ValueError("the commit record's ops or applied are malformed")
            state.committed = True
            state.commit_ops = [_op(o, "a commit op") for o in ops]
            state.applied = applied
        elif kind == "commit.done":
            state.commit_done.add(_int(record["index"], "a commit.done index"))
        else:
            raise ValueError(f"unknown record type {kind!r}")
    return state
