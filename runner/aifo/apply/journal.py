"""The write-ahead journal of an apply: `<state>/sessions/<s>/journal.jsonl`, JSON Lines.

    {"type": "begin", "version": 1, "session", "pid", "started", "aifo", "before": {...}}
    {"type": "step", "seq", "op", "rid", "args", "undo": {"op", "args"} | null}   (fsync'd first)
    {"type": "done", "seq", "result": {...} | null}
    {"type": "failed", "seq", "error"}
    {"type": "commit", "ops": [{"op", "args"}...], "applied": {...}}             (fsync'd)

A step record is written and fsync'd before its engine call runs; its result is appended after.
Past the `commit` record a crash is rolled forward (finish the ops); before it, rolled back (run
every recorded undo in reverse). Records carry names, ids and digests, never secret values.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aifo.errors import StateError

JOURNAL = "journal.jsonl"


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


def load(path: Path) -> JournalState:
    """Parse a journal; a torn last line (the crash hit mid-write) is ignored."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise StateError(f"cannot read the journal {path}: {exc}") from exc
    records: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):
                break
            raise StateError(f"{path}:{number}: corrupt journal record") from exc
        if isinstance(record, dict):
            records.append(record)
    if not records or records[0].get("type") != "begin":
        raise StateError(f"{path}: not an aifo journal (no begin record)")
    state = JournalState(path, records[0])
    by_seq: dict[int, Recorded] = {}
    for record in records[1:]:
        kind = record.get("type")
        if kind == "step":
            step = Recorded(
                int(record["seq"]),
                str(record["op"]),
                str(record.get("rid", "")),
                dict(record.get("args") or {}),
                record.get("undo"),
            )
            by_seq[step.seq] = step
            state.steps.append(step)
        elif kind == "done" and int(record["seq"]) in by_seq:
            by_seq[int(record["seq"])].status = "done"
            by_seq[int(record["seq"])].result = record.get("result")
        elif kind == "failed" and int(record["seq"]) in by_seq:
            by_seq[int(record["seq"])].status = "failed"
        elif kind == "commit":
            state.committed = True
            state.commit_ops = list(record.get("ops") or [])
            state.applied = record.get("applied")
        elif kind == "commit.done":
            state.commit_done.add(int(record["index"]))
    return state
