"""Files in aifo's state folder, which only the user may write: checked folders, no links followed.

Every folder aifo uses under the state folder (the state folder included) must be a real folder
(not a link), owned by the user and not writable by group or others; anything else is refused
with the command that fixes it (`Unsafe`). Every file there is opened with `O_NOFOLLOW` (a
planted link is refused, never followed) and must be a regular file, ours and private before a
byte of it is read. Files are replaced atomically through a temporary file created with `O_EXCL`
under an unpredictable name. The content is plain data: callers parse it as untrusted input.

Light on purpose (no pathlib or typing at import): `aifo exec`'s quick path reads through here.
"""

from __future__ import annotations

import errno
import os
import stat

TYPE_CHECKING = False  # not typing's: `aifo exec`'s quick path (mypy knows the name)
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    PathLike = str | Path

READ_CAP = 8 << 20  # bytes: no state file aifo writes comes near it


class Unsafe(OSError):
    """A state folder or file aifo must not trust: not ours, writable by others, or a link.
    An OSError, so best-effort cache code treats it as a miss; commands turn it into a
    StateError (exit 1) with `hint`, the command that fixes it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


def _problem(path: str, st: os.stat_result, what: str) -> Unsafe | None:
    uid = os.getuid()
    if st.st_uid != uid:
        return Unsafe(
            f"{what} {path} belongs to uid {st.st_uid}, not to you (uid {uid}): another user "
            "could plant files there",
            hint=f"remove it, or if it is yours: chown -R {uid} {path}",
        )
    if st.st_mode & 0o022:
        return Unsafe(
            f"{what} {path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})",
            hint=f"chmod go-w {path}  (aifo makes its folders 0700)",
        )
    return None


def check_folder(path: PathLike) -> None:
    """Refuse (Unsafe) a state folder that is a link, not a folder, not ours or not private."""
    name = os.fspath(path)
    st = os.lstat(name)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a folder"
        raise Unsafe(
            f"state folder {name} is {what}",
            hint=f"remove it (rm {name}); aifo creates its folders itself",
        )
    problem = _problem(name, st, "state folder")
    if problem is not None:
        raise problem


def ensure_folder(root: PathLike, *parts: str, create: bool = True) -> str:
    """`root/parts...`, each level made (0700) when `create` and checked. Without `create`, the
    levels that exist are checked and a missing one ends the walk (FileNotFoundError)."""
    path = os.fspath(root)
    for i in range(len(parts) + 1):
        if i:
            path = os.path.join(path, parts[i - 1])
        if create:
            try:
                os.makedirs(path, mode=0o700) if i == 0 else os.mkdir(path, 0o700)
            except FileExistsError:
                pass
        check_folder(path)
    return path


def open_file(path: PathLike, flags: int = os.O_RDONLY, mode: int = 0o600) -> int:
    """A descriptor on a state file, never through a link; refused (Unsafe) unless it is a
    regular file, ours and not writable by group or others."""
    name = os.fspath(path)
    try:
        fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Unsafe(
                f"state file {name} is a symbolic link; aifo never follows links there",
                hint=f"remove it (rm {name})",
            ) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Unsafe(f"state file {name} is not a regular file", hint=f"remove it (rm {name})")
        problem = _problem(name, st, "state file")
        if problem is not None:
            raise problem
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes(path: PathLike, cap: int = READ_CAP) -> bytes | None:
    """A private state file's content, None when it is missing; Unsafe when it must not be
    trusted, OSError (EFBIG) past `cap`."""
    try:
        fd = open_file(path)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(cap + 1)
    if len(data) > cap:
        raise OSError(errno.EFBIG, f"state file {os.fspath(path)} is over {cap} bytes")
    return data


def write_atomic(path: PathLike, data: bytes) -> None:
    """Replace `path` with `data` (0600): written to an `O_EXCL` temporary file with a random
    name beside it, then renamed over it (a rename replaces a planted link, never follows it)."""
    name = os.fspath(path)
    folder, base = os.path.split(name)
    tmp = os.path.join(folder, f".{base}.{os.urandom(8).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, name)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def evict(folder: PathLike, keep: int, match: Callable[[str], bool]) -> None:
    """Remove all but the `keep` newest files of `folder` whose names `match` (a link is
    removed itself, never followed): how aifo's caches stay bounded."""
    found: list[tuple[float, str]] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if match(entry.name):
                try:
                    found.append((entry.stat(follow_symlinks=False).st_mtime, entry.path))
                except OSError:
                    continue
    found.sort(reverse=True)
    for _, path in found[keep:]:
        try:
            os.unlink(path)
        except OSError:
            pass
