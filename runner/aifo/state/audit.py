"""The per-session audit log: one JSON Lines file, `<state dir>/sessions/<session>/audit.jsonl`.

Every record is one JSON object on one line with at least `time` (UTC, ISO 8601) and `kind`
(`route` for a routed command, `egress` for a proxy decision, ...); the rest is the kind's own.
Writers append whole lines under an exclusive `flock`, so concurrent writers (several `aifo exec`
processes, the egress reader) never interleave. Readers skip a torn or foreign line instead of
failing: the log is evidence, and one bad line must not hide the others.

Secret values never reach the log: `record` replaces every occurrence of a value the caller
names as secret with `***` in every string it writes (keys included), whatever the kind.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aifo.errors import StateError
from aifo.masking import mask_values
from aifo.state.private import Unsafe, open_file

AUDIT_FILE = "audit.jsonl"
MAX_LINE = 1 << 20  # a longer line is not ours (or torn): readers skip it, bounded memory


def audit_path(session: str, *, create: bool = False) -> Path:
    from aifo.state.folder import session_dir

    return session_dir(session, create=create) / AUDIT_FILE


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def masked(value: Any, secrets: Iterable[str]) -> Any:
    """`value` with every occurrence of a secret (longest first) replaced by `***`."""
    values = [s for s in secrets if s]
    if not values:
        return value

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return mask_values(v, values)
        if isinstance(v, Mapping):
            return {walk(str(k)): walk(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [walk(x) for x in v]
        return v

    return walk(value)


def record(
    session: str,
    kind: str,
    fields: Mapping[str, Any],
    *,
    secrets: Iterable[str] = (),
    time: str | None = None,
) -> dict[str, Any]:
    """Append one record of `kind`; returns what was written. StateError if the log is unusable.

    `time` is when the event happened, when the writer learns of it later (egress: the proxy's
    own timestamp); default now.
    """
    entry: dict[str, Any] = {"time": time or now(), "kind": kind}
    entry.update({k: v for k, v in fields.items() if k not in entry})
    entry = masked(entry, secrets)
    text = json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str)
    line = (text + "\n").encode()
    path = audit_path(session, create=True)
    try:  # never through a link, only our own private file (aifo.state.private)
        fd = open_file(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    except Unsafe as exc:
        raise StateError(f"refusing the audit log: {exc.message}", hint=exc.hint) from None
    except OSError as exc:
        raise StateError(f"cannot open the audit log {path}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        raise StateError(f"cannot write the audit log {path}: {exc.strerror}") from exc
    finally:
        os.close(fd)  # closing releases the lock
    return entry


def read(session: str, *, kinds: Iterable[str] = ()) -> Iterator[dict[str, Any]]:
    """The session's records, oldest first (optionally only some kinds). Empty when none."""
    wanted = set(kinds)
    path = audit_path(session)
    try:
        handle = os.fdopen(open_file(path), "rb")
    except FileNotFoundError:
        return
    except Unsafe as exc:
        raise StateError(f"refusing the audit log: {exc.message}", hint=exc.hint) from None
    except OSError as exc:
        raise StateError(f"cannot read the audit log {path}: {exc.strerror}") from exc
    with handle:
        while True:
            raw = handle.readline(MAX_LINE + 1)
            if not raw:
                return
            if len(raw) > MAX_LINE:
                while raw and not raw.endswith(b"\n"):  # skip the rest of an oversized line
                    raw = handle.readline(MAX_LINE)
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get("kind"), str):
                continue
            if not wanted or entry["kind"] in wanted:
                yield entry
