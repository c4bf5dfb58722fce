"""The per-session audit log: one JSON Lines file, `<state dir>/sessions/<session>/audit.jsonl`.

Every record is one JSON object on one line with at least `time` (UTC, ISO 8601) and `kind`
(`route` for a routed command, `egress` for a proxy decision, ...); the rest is the kind's own.
Writers append whole lines under an exclusive `flock`, so concurrent writers (several `aifo exec`
processes, the egress reader) never interleave. Readers skip a torn or foreign line instead of
failing: the log is evidence, and one bad line must not hide the others.

Every record fits a line that readers take (MAX_LINE): `record` escapes what JSON cannot hold
(bytes that are not UTF-8, kept as surrogates by os.fsdecode, become `\\xNN`), and cuts long
strings and lists with a visible marker, within a budget per record. Never a dropped record.

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
MAX_VALUE = 4096  # characters of one string kept; the rest is cut with a marker
MAX_ITEMS = 256  # items of one list kept
MAX_RECORD = 16 << 10  # characters of strings kept per record (JSON escapes take <= 6 each)


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


def clip(value: Any, budget: list[int] | None = None) -> Any:
    """`value` made safe to log: strings (keys included) escaped and cut, lists cut, each cut
    marked `…[cut N]`; at most MAX_RECORD characters of strings in all."""
    left = budget if budget is not None else [MAX_RECORD]
    if isinstance(value, str):
        text = value
        if not text.isascii():  # surrogates (undecodable bytes) as \xNN: valid UTF-8 text
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        keep = max(0, min(len(text), MAX_VALUE, left[0]))
        left[0] -= keep
        return text if keep == len(text) else f"{text[:keep]}…[cut {len(text) - keep} chars]"
    if isinstance(value, Mapping):
        return {clip(str(k), left): clip(v, left) for k, v in list(value.items())[:MAX_ITEMS]}
    if isinstance(value, list | tuple):
        out = [clip(v, left) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            out.append(f"…[cut {len(value) - MAX_ITEMS} items]")
        return out
    return value


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
    entry = clip(masked(entry, secrets))
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


def read(
    session: str, *, kinds: Iterable[str] = (), skipped: list[int] | None = None
) -> Iterator[dict[str, Any]]:
    """The session's records, oldest first (optionally only some kinds). Empty when none.
    `skipped` (one number) counts the lines that are not records, so the reader can say so."""
    bad = skipped if skipped is not None else [0]
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
                bad[0] += 1
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                bad[0] += 1
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get("kind"), str):
                bad[0] += 1
                continue
            if not wanted or entry["kind"] in wanted:
                yield entry
