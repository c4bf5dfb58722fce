"""The host-path resolver: `~`, relative paths, `..`, symlinks; lengths bounded; never raises."""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path

MAX_COMPONENT_BYTES = 255  # NAME_MAX
MAX_PATH_BYTES = 4096  # PATH_MAX


@dataclass(frozen=True)
class Located:
    """One host path as the policy sees it. `problem` set means it cannot be used at all."""

    written: Path  # `~`, relative and `..` resolved; no I/O
    real: Path  # symlinks resolved (== written when that failed)
    st: os.stat_result | None  # of the real path; None when missing
    problem: str | None = None

    @property
    def shown(self) -> str:
        return (
            str(self.written) if self.real == self.written else f"{self.written} (-> {self.real})"
        )


def expand(source: str, base: Path, home: Path) -> Path:
    """`~`, `~/x` and relative paths (to `base`) made absolute and normalized; no I/O."""
    if source == "~":
        path = home
    elif source.startswith("~/"):
        path = home / source[2:]
    else:
        path = base / os.path.expanduser(source)
    return Path(os.path.normpath(path))


def length_problem(text: str) -> str | None:
    """Why a path cannot be a host path (NUL byte, a component or the whole too long), or None."""
    if "\0" in text:
        return "it contains a NUL character"
    raw = text.encode("utf-8", "surrogateescape")
    if len(raw) > MAX_PATH_BYTES:
        return f"it is {len(raw)} bytes long; a path may have at most {MAX_PATH_BYTES}"
    longest = max((len(part) for part in raw.split(b"/")), default=0)
    if longest > MAX_COMPONENT_BYTES:
        return (
            f"one of its names is {longest} bytes long; a name may have at most "
            f"{MAX_COMPONENT_BYTES}"
        )
    return None


_FOREIGN_ROOT = re.compile(r"^/proc/[^/]+/(root|cwd|map_files)(/|\Z)")


def locate(source: str, base: Path, home: Path) -> Located:
    """Resolve a host path as written in the spec. Never raises: a problem is reported."""
    problem = length_problem(source)
    if problem is not None:
        shown = Path(source[:64] + "...") if len(source) > 64 else Path(source.replace("\0", ""))
        return Located(shown, shown, None, problem)
    written = expand(source, base, home)
    problem = length_problem(str(written))
    if problem is not None:
        return Located(written, written, None, problem)
    if _FOREIGN_ROOT.match(str(written)):
        return Located(written, written, None, "it is another process's filesystem view")
    try:
        real = Path(os.path.realpath(written))
        st: os.stat_result | None = os.stat(real)
    except FileNotFoundError:
        return Located(written, real, None)
    except (OSError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return Located(written, written, None)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return Located(written, written, None, f"it cannot be inspected: {reason.lower()}")
    return Located(written, real, st)
