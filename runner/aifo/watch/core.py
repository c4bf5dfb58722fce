"""The pure-ish pieces of `aifo apply --watch`: what to watch, when a burst is over, what changed.

Nothing here imports watchfiles; the only I/O is reading the watched files for `digest`.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aifo.model import Session
    from aifo.sessionspec import ResolvedSpec

FileChange = tuple[Any, str]  # watchfiles' (Change, path)

# Directories never worth reading or watching inside a build context (watchfiles' defaults too).
IGNORED_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".tox", ".venv"}
)


@dataclass(frozen=True)
class WatchSet:
    """Parent directories watched non-recursively (with the file names that matter in each),
    plus directories watched recursively (build contexts)."""

    files: Mapping[str, frozenset[str]] = field(default_factory=dict)
    recursive: frozenset[str] = frozenset()

    def paths(self) -> tuple[str, ...]:
        """Every watched file and recursive directory, sorted (for display)."""
        found = [os.path.join(d, n) for d, names in self.files.items() for n in names]
        return tuple(sorted([*found, *self.recursive]))

    def matches(self, path: str) -> bool:
        """True when `path` is one of the watched files or lies under a recursive directory."""
        parent, name = os.path.split(path)
        if name in self.files.get(parent, ()):
            return True
        return any(_within(path, root) for root in self.recursive)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WatchSet):
            return NotImplemented
        return dict(self.files) == dict(other.files) and self.recursive == other.recursive

    def __hash__(self) -> int:
        return hash((frozenset(self.files.items()), self.recursive))


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def make_watch_set(files: Iterable[str | Path], recursive: Iterable[str | Path] = ()) -> WatchSet:
    """Group absolute file paths by parent directory; normalise every path."""
    grouped: dict[str, set[str]] = {}
    for file in files:
        parent, name = os.path.split(os.path.abspath(file))
        grouped.setdefault(parent, set()).add(name)
    return WatchSet(
        files={d: frozenset(names) for d, names in sorted(grouped.items())},
        recursive=frozenset(os.path.abspath(r) for r in recursive),
    )


def fallback_watch_set(spec_file: str | Path) -> WatchSet:
    """What to watch before any resolve succeeded: the spec and the `.env` beside it."""
    path = Path(os.path.abspath(spec_file))
    return make_watch_set([path, path.parent / ".env"])


def watch_set(resolved: ResolvedSpec, session: Session | None = None) -> WatchSet:
    """The spec, every profile it extends, `.env` (even before it exists: creating it counts),
    and the build context of each image aifo builds (from `session` when compiled, else from the
    resolved data, where contexts are already absolute)."""
    files = [resolved.file, *resolved.sources, resolved.base_dir / ".env"]
    if session is not None:
        contexts = [img.build.context for img in session.images if img.build is not None]
    else:
        contexts = _data_contexts(resolved.data)
    return make_watch_set(files, contexts)


def _data_contexts(data: Mapping[str, Any]) -> list[str]:
    contexts: list[str] = []
    for role in ("agents", "toolchains", "services"):
        for container in (data.get(role) or {}).values():
            image = (container or {}).get("image")
            build = image.get("build") if isinstance(image, dict) else None
            if isinstance(build, dict) and isinstance(build.get("context"), str):
                contexts.append(build["context"])
    return contexts


def settle(
    changes: Iterator[AbstractSet[FileChange]],
    settle_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> frozenset[FileChange] | None:
    """Wait for a burst of changes to end: from the first change, keep reading until none arrived
    for `settle_s`. `changes` yields batches, and empty batches as clock ticks while idle.

    Returns every change of the burst, or None when `changes` ends first (the watcher stopped).
    """
    seen: set[FileChange] = set()
    last: float | None = None
    for batch in changes:
        now = clock()
        if batch:
            seen.update(batch)
            last = now
        elif last is not None and now - last >= settle_s:
            return frozenset(seen)
    return None


def digest(ws: WatchSet) -> str:
    """sha256 over the watched files' names and bytes (a missing file is hashed as missing)."""
    h = hashlib.sha256()
    for parent in sorted(ws.files):
        for name in sorted(ws.files[parent]):
            _feed(h, os.path.join(parent, name))
    for root in sorted(ws.recursive):
        for path in _walk(root):
            _feed(h, path)
    return h.hexdigest()


def _feed(h: hashlib._Hash, path: str) -> None:
    h.update(path.encode("utf-8", "surrogateescape") + b"\0")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        h.update(b"\1missing\0")
        return
    except OSError as exc:  # unreadable: its error still distinguishes it
        h.update(f"\1error {exc.errno}\0".encode())
        return
    h.update(len(data).to_bytes(8, "big") + data)


def _walk(root: str) -> Iterator[str]:
    for current, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS)
        for name in sorted(names):
            yield os.path.join(current, name)
