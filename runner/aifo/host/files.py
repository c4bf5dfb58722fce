"""Reading host files aifo reads itself: regular files only, under a size cap, never blocking.

`from_file` secrets, `.env`, the spec and its profiles, Dockerfiles and `.dockerignore` are read
through `read_bounded`: a FIFO never blocks it, a device (`/dev/zero`) is never read, and no more
than `cap + 1` bytes are ever held. Which paths may be read at all is
aifo.sessionspec.hostpaths' call.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False  # not typing's: `aifo exec`'s fast path reads through here (mypy knows)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Literal

    Kind = Literal["any", "folder", "file"]

KIB = 1024
FROM_FILE_CAP = 128 * KIB  # one environment string: Linux's MAX_ARG_STRLEN
ENV_FILE_CAP = 1024 * KIB
DOCKERFILE_CAP = 1024 * KIB
SPEC_FILE_CAP = 64 * 1024 * KIB


_TYPES = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
)


def type_problem(st: os.stat_result, kind: Kind, cap: int | None) -> str | None:
    """Why a file of this stat cannot serve `kind` (a folder; a regular file under `cap`)."""
    if kind == "any":
        return None
    if kind == "folder":
        return None if stat.S_ISDIR(st.st_mode) else "it is not a folder"
    if not stat.S_ISREG(st.st_mode):
        what = next((name for test, name in _TYPES if test(st.st_mode)), "not a regular file")
        return f"it is {what}, not a regular file"
    if cap is not None and st.st_size > cap:
        return f"it is {st.st_size} bytes; at most {cap} bytes are read"
    return None


def file_problem(path: str | Path, cap: int) -> str | None:
    """Why `path` is not a regular file aifo can read (under `cap` bytes), in words: missing, a
    dangling link, a symlink loop, a FIFO, a device, a folder, too big; None when it is one.
    Only stats (never opens)."""
    import errno

    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.lexists(path):
            return f"it is a symbolic link to a missing file ({os.readlink(path)})"
        return "no such file"
    except (OSError, ValueError) as exc:
        code = exc.errno if isinstance(exc, OSError) else None
        if code == errno.ELOOP:
            return "it is a symbolic link loop"
        if code == errno.ENOTDIR:
            return "no such file (a part of its path is not a folder)"
        if code == errno.ENAMETOOLONG:
            return "its name is too long"
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return f"it cannot be inspected: {reason.lower()}"
    return type_problem(st, "file", cap)


class UnreadableFile(OSError):
    """A host file `read_bounded` refuses (an OSError, translated where it is caught); `str()`
    says why, never the content."""


def read_bounded(path: str | Path, cap: int) -> bytes:
    """Read a regular file of at most `cap` bytes. Never blocks on a FIFO, never reads a device,
    never holds more than `cap + 1` bytes. Raises UnreadableFile (or FileNotFoundError)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:  # stat before open: opening some devices has effects of its own
        before = os.stat(path)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UnreadableFile(f"cannot inspect it: {reason.lower()}") from exc
    problem = type_problem(before, "file", cap)
    if problem is not None:
        raise UnreadableFile(problem)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:  # e.g. ENXIO: a FIFO without a writer, on some systems
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UnreadableFile(f"cannot open it: {reason.lower()}") from exc
    try:
        opened = os.fstat(fd)
        problem = type_problem(opened, "file", cap)
        if problem is not None:
            raise UnreadableFile(problem)
        if (opened.st_dev, opened.st_ino) != (before.st_dev, before.st_ino):
            raise UnreadableFile("it changed while it was opened")
        chunks: list[bytes] = []
        size = 0
        while size <= cap:
            chunk = os.read(fd, min(65536, cap + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > cap:
            raise UnreadableFile(f"it is over {cap} bytes")
        return b"".join(chunks)
    except UnreadableFile:
        raise
    except OSError as exc:
        raise UnreadableFile(f"cannot read it: {(exc.strerror or str(exc)).lower()}") from exc
    finally:
        os.close(fd)
