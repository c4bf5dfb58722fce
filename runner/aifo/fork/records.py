"""What `fork ls` lists: one record per finished fork, `<state>/forks/<session>/<I>.json`.

A record is written only when the whole `fork new` transaction succeeded (its commit), so a
half-made fork is never listed. Records are plain data, validated on read; a file that is not
ours, or not a record, is skipped.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aifo.errors import AifoError
from aifo.state import private


@dataclass(frozen=True)
class ForkRecord:
    """One fork: its number, session, branch, clone, base commit and where it came from."""

    fork: int
    session: str  # the main session
    fork_session: str
    branch: str
    path: str  # the clone's host folder
    repo: str  # the main repository's work tree
    base: str  # the commit the branch started from
    created: str  # ISO 8601, UTC
    spec: str  # the spec file it was derived from
    profiles: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()  # `--agent` (empty: all)
    # the volume holding the fork's workspace on a Swarm node elsewhere ("": its clone is
    # bound); `path` is then the host copy, refreshed from it before each read (fork/bringback)
    volume: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["profiles"], data["agents"] = list(self.profiles), list(self.agents)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ForkRecord:
        text = ("session", "fork_session", "branch", "path", "repo", "base", "created", "spec")
        if not isinstance(data.get("fork"), int) or not all(
            isinstance(data.get(k), str) for k in text
        ):
            raise ValueError("not a fork record")
        return cls(
            fork=int(data["fork"]),
            **{k: str(data[k]) for k in text},
            profiles=tuple(str(p) for p in data.get("profiles") or ()),
            agents=tuple(str(a) for a in data.get("agents") or ()),
            volume=str(data.get("volume") or ""),
        )


def record_path(folder: Path, number: int) -> Path:
    return folder / f"{number}.json"


def write(folder: Path, record: ForkRecord) -> None:
    """Atomically (temporary file, fsync, rename)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = json.dumps(record.to_json(), indent=2, sort_keys=True).encode()
    private.write_atomic(record_path(folder, record.fork), data)  # O_EXCL, random name


def read_all(folder: Path) -> list[ForkRecord]:
    """Every valid record, by fork number."""
    found: list[ForkRecord] = []
    if not folder.is_dir():
        return found
    for path in folder.glob("*.json"):
        try:
            data = private.read_bytes(path)  # no links; ours and private only
            if data is None:
                continue
            record = ForkRecord.from_json(json.loads(data))
        except (OSError, ValueError, AifoError):
            continue
        if path.stem == str(record.fork):
            found.append(record)
    return sorted(found, key=lambda r: r.fork)


def forget(folder: Path, number: int) -> None:
    record_path(folder, number).unlink(missing_ok=True)
