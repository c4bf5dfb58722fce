"""The egress proxy's decisions, from its access log into the session's audit log (kind `egress`).

squid writes one tab-separated line per request to the proxy's stdout (aifo.egress.squid); this
reads the lines it has not read yet through the engine (`docker logs --since` the last line
taken, remembered per proxy container in the session's state folder) and appends one audit
record each: time, client, source, host:port, method, status, decision. `aifo audit` collects
before it prints, and apply collects before it replaces or removes the proxy (its log goes with
the container) or any other container of the session (its address names its requests).
Collection holds a lock, so two collectors never append a line twice.

The proxy runs in a container: every field of a line is hostile input, validated and bounded
here (a line that does not parse is not a record). The record's `client` is the engine's
answer, not the proxy's: one observe of the session per collection maps each source address to
the session's container at it (aifo.egress.naming).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from aifo.egress import naming
from aifo.egress.squid import LOG_TAG
from aifo.engine.api import Want
from aifo.model import docker_name
from aifo.model.observed import Snapshot
from aifo.state import audit

CURSOR_FILE = "egress-cursor.json"
KIND = "egress"
_LOCAL = {"127.0.0.1", "::1"}  # the proxy's own readiness probe
MAX_NAME = 255  # a DNS name's length: a longer host or source is cut (marked)
MAX_METHOD = 32


class LogSource(Protocol):
    """What collect needs from the engine (aifo.engine.client.DockerEngine)."""

    def container_id(self, ref: str) -> str | None: ...

    def log_lines(self, ref: str, *, since: str | None = None) -> list[tuple[str, str]]: ...

    def observe(self, session: str, want: Want) -> Snapshot: ...


def parse(line: str, session: str) -> dict[str, Any] | None:
    """One access-log line → the audit record's fields as the proxy wrote them (with `time`;
    without `client`, which is the engine's: `name`); None for anything else."""
    parts = line.rstrip("\r\n").split("\t")
    if len(parts) != 9 or parts[0] != LOG_TAG:
        return None
    _tag, stamp, address, source, method, host, port, status, verdict = parts
    if address in _LOCAL or method == "-":
        return None
    normal = naming.normal_address(address)
    if normal is None or normal in _LOCAL:
        return None
    try:
        when = datetime.fromtimestamp(float(stamp), UTC)
        port_number = int(port) if port.isdigit() and len(port) <= 5 else None
        code = int(status)
    except (ValueError, OverflowError, OSError):
        return None
    if port_number is not None and not 0 < port_number < 65536 or not 0 <= code <= 999:
        return None
    return {
        "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "source": _cut(source, MAX_NAME) if source != "-" else normal,
        "address": normal,
        "method": _cut(method, MAX_METHOD),
        "target": _cut(f"{host}:{port_number}" if port_number is not None else host, MAX_NAME),
        "status": code,
        "decision": "refused" if "DENIED" in verdict else "allowed",
    }


def name(fields: dict[str, Any], session: str, table: naming.Directory) -> dict[str, Any]:
    """`fields` (from `parse`) with the engine's `client` first, and the naming notes."""
    claimed = client_of(fields["source"], session)
    return {**naming.name(fields["address"], claimed, table), **fields}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}…[cut {len(text) - limit} chars]"


def client_of(source: str, session: str) -> str | None:
    """`aifo-<session>-<name>.<network>` (Docker's reverse DNS) → `<name>`; None if not ours."""
    prefix = docker_name(session, "")
    container = source.split(".", 1)[0]
    if "." in source and container.startswith(prefix) and len(container) > len(prefix):
        return container[len(prefix) :]
    return None


def collect(engine: LogSource, session: str, state_dir: Path) -> int:
    """Append the proxy's new decisions to the audit log; returns how many. 0 without a proxy."""
    from aifo.egress.sidecar import PROXY

    ref = docker_name(session, PROXY)
    cid = engine.container_id(ref)
    if cid is None:
        return 0
    from aifo.state.private import open_file

    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / CURSOR_FILE
    fd = open_file(path, os.O_RDWR | os.O_CREAT)  # never through a link; ours and private
    with os.fdopen(fd, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        cursor = _read_cursor(handle.read())
        since = cursor.get("since") if cursor.get("container") == cid else None
        last = _stamp(since) if since else None
        newest = since
        found: list[dict[str, Any]] = []
        for stamp, text in engine.log_lines(cid, since=since):
            key = _stamp(stamp)
            if key is None or (last is not None and key <= last):
                continue
            newest = stamp
            fields = parse(text, session)
            if fields is not None:
                found.append(fields)
        # after the log: a container that made a request in it is there to be seen (one
        # observe per collection, none when there is nothing new)
        table = _directory(engine, session, ref) if found else {}
        for fields in found:
            when = fields.pop("time")
            audit.record(session, KIND, name(fields, session, table), time=when)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"container": cid, "since": newest}))
    return len(found)


def _directory(engine: LogSource, session: str, proxy: str) -> dict[str, frozenset[str]]:
    """The session's containers by address on the proxy's networks, as the engine reports them
    now (an empty `Want`: only what carries the session's label)."""
    snapshot = engine.observe(session, Want())
    return naming.directory(snapshot, naming.proxy_networks(snapshot, proxy))


def has_proxy(session: str, container_names: Iterable[str]) -> bool:
    from aifo.egress.sidecar import PROXY

    return docker_name(session, PROXY) in set(container_names)


def collect_quietly(engine: LogSource, session: str, state_dir: Path) -> None:
    """`collect` before the proxy goes away (apply replacing it, destroy): never fails the caller,
    the audit log is evidence, not a precondition."""
    from aifo.errors import AifoError

    try:
        collect(engine, session, state_dir)
    except (AifoError, OSError):
        pass


def _read_cursor(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _stamp(text: str) -> tuple[str, int] | None:
    """Docker's RFC 3339 timestamp (nanoseconds, trailing zeros trimmed) as a sortable key."""
    head, dot, rest = text.partition(".")
    if not dot:
        return (head.rstrip("Z"), 0) if head else None
    digits = "".join(_digits(rest))
    return head, int(digits.ljust(9, "0")[:9]) if digits else 0


def _digits(text: str) -> Iterator[str]:
    for ch in text:
        if not ch.isdigit():
            return
        yield ch
