"""One agent's route folder on the host: made, filled with shims, and opened safely.

The folder is mounted read-write into its agent, so its contents are the agent's to change:
every file the router touches is reached through directory file descriptors opened with
O_NOFOLLOW, and checked for its type after opening. A planted symlink or a regular file where a
FIFO belongs fails that one request, never reaches a host path outside the folder.
"""

from __future__ import annotations

import fcntl
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aifo.errors import StateError
from aifo.route import shim

TOOL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}\Z")
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class Folder:
    """The host side of one agent's route: `path` (mounted) and `private` (host-only)."""

    path: Path
    private: Path

    @property
    def ctl(self) -> Path:
        return self.path / "ctl"


def _secure_dir(path: Path) -> None:
    """`path` exists as a directory of ours with mode 0700; StateError otherwise."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise StateError(f"the route folder {path} is not a directory owned by uid {os.getuid()}")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)


def _write_at(dir_fd: int, name: str, text: str, mode: int) -> None:
    """Replace `name` in `dir_fd` atomically (a temporary file renamed over it)."""
    tmp = f".{name}.{os.getpid()}.tmp"
    remove_at(dir_fd, tmp)  # whatever the agent left there (a file, a folder, a FIFO)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=dir_fd)
    try:
        os.write(fd, text.encode())
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    try:
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except IsADirectoryError:  # a folder planted where the file belongs
        remove_at(dir_fd, name)
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def _subdir(dir_fd: int, name: str) -> int:
    """Open (making it if needed) the directory `name` in `dir_fd`; replace anything else."""
    try:
        return os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    except OSError:  # a symlink, a file: the agent's doing; replace it
        remove_at(dir_fd, name)
    os.mkdir(name, 0o700, dir_fd=dir_fd)
    return os.open(name, DIR_FLAGS, dir_fd=dir_fd)


MAX_DEPTH = 16  # directory descriptors held at once while removing (a planted tree can be deeper)
MAX_ENTRIES = 200_000  # removal gives up after this many entries (the agent can always make more)


def remove_at(dir_fd: int, name: str) -> bool:
    """Remove `name` (a file, or a folder and all in it) in `dir_fd`, never through a symlink;
    True when it is gone. Never raises, never recurses: the folder's contents are the agent's
    (a tree thousands deep, FIFOs, entries it recreates), and every cleanup step after this one
    (the sweep of routed processes) must still run. A folder deeper than MAX_DEPTH is moved up
    next to `name` and removed from there, so at most MAX_DEPTH descriptors are open."""
    budget = [MAX_ENTRIES]
    pending = [name]
    while pending and budget[0] > 0:
        _remove_one(dir_fd, pending.pop(), pending, budget)
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return True
    except OSError:
        pass
    return False


def _remove_one(root: int, name: str, pending: list[str], budget: list[int]) -> None:
    """Remove `name` in `root`; folders found at MAX_DEPTH are renamed into `root` and queued
    on `pending`. Errors skip the entry, never stop the walk."""
    try:
        info = os.stat(name, dir_fd=root, follow_symlinks=False)
        if not stat.S_ISDIR(info.st_mode):
            os.unlink(name, dir_fd=root)
            return
        top = os.open(name, DIR_FLAGS, dir_fd=root)
    except OSError:
        return
    stack: list[tuple[int, str, set[str]]] = [(top, name, set())]  # (fd, name, failed names)
    while stack:
        fd, here, failed = stack[-1]
        child = _clear_files(fd, failed, root, pending, budget, deep=len(stack) >= MAX_DEPTH)
        if child is not None and budget[0] > 0:
            try:
                stack.append((os.open(child, DIR_FLAGS, dir_fd=fd), child, set()))
                continue
            except OSError:
                failed.add(child)
                continue
        stack.pop()
        os.close(fd)
        parent = stack[-1][0] if stack else root
        try:
            os.rmdir(here, dir_fd=parent)
        except OSError:
            if stack:
                stack[-1][2].add(here)


def _clear_files(
    fd: int, failed: set[str], root: int, pending: list[str], budget: list[int], *, deep: bool
) -> str | None:
    """Unlink every non-folder in `fd`; the first folder still to descend into, if any (at the
    depth limit, folders are moved to `root` and queued instead)."""
    try:
        with os.scandir(fd) as entries:
            for entry in entries:
                if entry.name in failed:
                    continue
                budget[0] -= 1
                if budget[0] <= 0:
                    return None
                try:
                    if not entry.is_dir(follow_symlinks=False):
                        os.unlink(entry.name, dir_fd=fd)
                    elif not deep:
                        return entry.name
                    else:
                        moved = f".aifo-rm.{os.urandom(6).hex()}"
                        os.rename(entry.name, moved, src_dir_fd=fd, dst_dir_fd=root)
                        pending.append(moved)
                except OSError:
                    failed.add(entry.name)
    except OSError:
        pass
    return None


def prepare(path: Path, private: Path, tools: Mapping[str, tuple[str, Iterable[str]]]) -> Folder:
    """Make the folders, write `shim` and one `bin/<tool>` per tool (tool -> (toolchain id,
    pass_env)), drop stale stubs, and make the control FIFO."""
    _secure_dir(path)
    _secure_dir(private)
    fd = os.open(path, DIR_FLAGS)
    try:
        _write_at(fd, "shim", shim.SHIM, 0o755)
        bin_fd = _subdir(fd, "bin")
        try:
            for tool, (toolchain, pass_env) in tools.items():
                if not TOOL_NAME.fullmatch(tool):
                    raise StateError(f"cannot route {tool!r}: not a command name")
                _write_at(bin_fd, tool, shim.stub(tool, toolchain, pass_env), 0o755)
            for name in os.listdir(bin_fd):
                if name not in tools:
                    remove_at(bin_fd, name)
        finally:
            os.close(bin_fd)
        os.close(_subdir(fd, "req"))
        _make_fifo(fd, "ctl")
    finally:
        os.close(fd)
    return Folder(path, private)


def prepare_private(path: Path, private: Path) -> Folder:
    """Only the host-only companion (locks, slots): the route folder itself is elsewhere (a
    tmpfs in the agent, aifo.route.execroute); `path` is not made."""
    _secure_dir(private)
    return Folder(path, private)


def _make_fifo(dir_fd: int, name: str) -> None:
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISFIFO(info.st_mode):
            return
        remove_at(dir_fd, name)
    except FileNotFoundError:
        pass
    try:
        os.mkfifo(name, 0o600, dir_fd=dir_fd)
    except FileExistsError:  # another router made it meanwhile
        pass


def prepare_ctl(folder: Folder) -> None:
    fd = os.open(folder.path, DIR_FLAGS)
    try:
        _make_fifo(fd, "ctl")
    finally:
        os.close(fd)


def open_ctl(folder: Folder) -> int:
    """The control FIFO, read-write (so it never reports end-of-file) and non-blocking."""
    fd = os.open(folder.ctl, os.O_RDWR | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):
        os.close(fd)
        raise StateError(f"{folder.ctl} is not a FIFO")
    return fd


@contextmanager
def router_lock(
    folder: Folder,
    on_last: Callable[[], None] | None = None,
    on_first: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Held (shared) while a router serves; the last one out removes the control FIFO, so a
    shim started later fails at once instead of waiting for a router that is gone, and every
    request folder left (requests no router took: a flood's excess, the agent's own files);
    `on_last` does that instead where the folder is not on this machine. `on_first` runs when
    no other router serves (what dead routers left behind can go then)."""
    fd = os.open(folder.private / "routers.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        if on_first is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                on_first()
            except BlockingIOError:
                pass  # another router serves
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another router still serves
        if on_last is not None:
            on_last()
            return
        try:
            os.unlink(folder.ctl)
        except FileNotFoundError:
            pass
        clear(folder.path / "req")
    finally:
        os.close(fd)


def clear(path: Path) -> None:
    """Remove everything in the folder `path` (never through a symlink; never raises)."""
    try:
        fd = os.open(path, DIR_FLAGS)
    except OSError:
        return
    try:
        for name in os.listdir(fd):
            remove_at(fd, name)
    except OSError:
        pass
    finally:
        os.close(fd)


class Slots:
    """At most `limit` of something per agent, across every router serving it (`slots`: routed
    commands running; `held`: requests a worker holds, running or waiting): `limit` lock files,
    one flock'd per holder (released by the kernel when its holder ends)."""

    def __init__(self, folder: Folder, limit: int, kind: str = "slots") -> None:
        self.dir = folder.private / kind
        self.dir.mkdir(exist_ok=True, mode=0o700)
        self.limit = limit

    def try_take(self) -> int | None:
        for i in range(self.limit):
            fd = os.open(self.dir / str(i), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                os.close(fd)
        return None
