"""The per-session lock: `fcntl.flock` on `<state>/sessions/<s>/lock`, the holder's PID inside.

A second apply on the same session waits up to its lock timeout, then fails naming the holder.
`aifo destroy` deletes the file (with the session's other transient state) while holding it;
whoever then wins the lock on the deleted inode notices (the path names another inode, or none)
and locks the file anew, so two processes never hold locks on different inodes at once.
The file is opened without following links, and only when it is ours and private
(aifo.state.private): a planted link or another user's file is refused, never truncated.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from aifo.errors import LockTimeout, StateError
from aifo.state.private import Unsafe, check_folder, open_file, read_bytes

LOCK = "lock"


class SessionLock:
    def __init__(self, directory: Path, session: str, timeout_s: float = 30.0) -> None:
        self.path = directory / LOCK
        self.session = session
        self.timeout_s = timeout_s
        self._handle: IO[str] | None = None

    def _open(self) -> IO[str]:
        return _open(self.path)

    def _current(self, handle: IO[str]) -> bool:
        """Whether the locked file is still the one at the path (destroy may have removed it)."""
        try:
            return os.fstat(handle.fileno()).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            return False

    def acquire(self) -> None:
        handle = self._open()
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                if self._current(handle):
                    break
                handle.close()  # locked a deleted file: lock the new one instead
                handle = self._open()
                continue
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = read_pid(self.path)
                    handle.close()
                    who = f"PID {holder}" if holder else "another aifo process"
                    raise LockTimeout(
                        f"session {self.session!r} is locked by {who} (waited {self.timeout_s:g}s)",
                        hint="wait for it to finish, or pass a longer --lock-timeout",
                    ) from None
                time.sleep(0.05)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            try:
                self._handle.seek(0)
                self._handle.truncate()
            finally:
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
                self._handle.close()
                self._handle = None

    def __enter__(self) -> SessionLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _open(path: Path) -> IO[str]:
    """The lock file (created 0600 when missing): never through a link, ours and private. Its
    folder is made again when destroy removed it while a waiter waited."""
    try:
        try:
            os.mkdir(path.parent, 0o700)
        except FileExistsError:
            pass
        check_folder(path.parent)
        fd = open_file(path, os.O_RDWR | os.O_CREAT | os.O_APPEND)
    except Unsafe as exc:
        raise StateError(f"refusing the session lock: {exc.message}", hint=exc.hint) from None
    except OSError as exc:
        raise StateError(f"cannot open the session lock {path}: {exc}") from exc
    return os.fdopen(fd, "a+", encoding="utf-8")


def read_pid(path: Path) -> int | None:
    try:
        text = (read_bytes(path, 64) or b"").decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def held_by(directory: Path) -> int | None:
    """The PID holding the session lock right now, or None when it is free."""
    path = directory / LOCK
    if not path.exists() and not path.is_symlink():
        return None
    with _open(path) as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_pid(path) or -1
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return None
