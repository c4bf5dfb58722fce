"""One request as the shim wrote it: read bounded and symlink-safe, then checked. Pure parts
(`parse`, `map_cwd`) take bytes and strings; `open_request` does the file system part."""

from __future__ import annotations

import base64
import os
import posixpath
import re
import stat
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from aifo.route.folder import DIR_FLAGS

MAX_REQUEST = 256 << 10  # argv + env, as the shim wrote them: above it, refused unread
MAX_ARGC = 4096
NAME = re.compile(r"^[0-9]{1,10}\.[0-9]{1,3}\Z")  # the shim's `$$.$n`


class RequestError(Exception):
    """A request the router refuses; `str(e)` goes to the caller's stderr."""


@dataclass(frozen=True)
class Request:
    """One routed command as the agent's shim sent it."""

    cwd: str
    argv: tuple[str, ...]  # argv[0] is the tool
    env: dict[str, str]
    tty: tuple[int, int] | None = None  # (rows, columns) when the caller is at a terminal


def parse(data: bytes, allowed_env: Collection[str]) -> Request:
    """`cwd\\0tty\\0argc\\0tool\\0args...\\0K=V\\0...` (tty: `ROWS COLS` or empty); variables
    not in `allowed_env` are dropped. Anything else (a 5,000-digit argc, a truncated file, a
    cwd that is not UTF-8) is a RequestError: the request is refused, never a crash."""
    if len(data) > MAX_REQUEST:
        raise RequestError(f"the request is larger than {MAX_REQUEST} bytes")
    if not data.endswith(b"\0"):
        raise RequestError("malformed request (truncated)")
    fields = data[:-1].split(b"\0")
    count = fields[2] if len(fields) >= 4 else b""
    if not count.isdigit() or len(count) > 4 or int(count) > MAX_ARGC:
        raise RequestError(f"malformed request (the argument count; at most {MAX_ARGC})")
    argc = int(count)
    if len(fields) < 4 + argc:
        raise RequestError("malformed request (fewer arguments than its count)")
    try:
        cwd = fields[0].decode()
    except UnicodeDecodeError:
        raise RequestError("the working folder's name is not UTF-8") from None
    argv = tuple(os.fsdecode(f) for f in fields[3 : 4 + argc])
    size = fields[1].split()
    tty = None
    if len(size) == 2 and all(x.isdigit() and len(x) <= 4 and int(x) > 0 for x in size):
        tty = (int(size[0]), int(size[1]))
    env: dict[str, str] = {}
    for entry in fields[4 + argc :]:
        key, sep, value = os.fsdecode(entry).partition("=")
        if sep and key in allowed_env:
            env[key] = value
    return Request(cwd, argv, env, tty)


def argv_fields(argv: Sequence[str], secrets: Sequence[str]) -> dict[str, Any]:
    """The audit record's view of `argv` (secrets masked): `argv` as text (bytes that are not
    UTF-8 shown as `\\xNN` by the log), and `argv_bytes` {index: base64} for those arguments,
    so the record keeps them exactly."""
    from aifo.state.audit import masked

    shown = [str(a) for a in masked(list(argv), secrets)]
    fields: dict[str, Any] = {"argv": shown}
    exact = {}
    for i, arg in enumerate(shown):
        try:
            arg.encode()
        except UnicodeEncodeError:
            exact[str(i)] = base64.b64encode(os.fsencode(arg)).decode()
    if exact:
        fields["argv_bytes"] = exact
    return fields


def map_cwd(cwd: str, shared: Sequence[tuple[str, str]], workspace: str, toolchain: str) -> str:
    """The sidecar's folder for the agent's `cwd`, through the folders both mount from the same
    host path (`shared`: (agent target, sidecar target) pairs; the deepest match wins)."""
    if not cwd.startswith("/") or posixpath.normpath(cwd) != cwd or "\n" in cwd:
        raise RequestError(f"the working folder {cwd!r} is not a plain absolute path")
    best: tuple[str, str] | None = None
    for agent_target, sidecar_target in shared:
        rel = posixpath.relpath(cwd, agent_target)
        if rel != ".." and not rel.startswith("../"):
            if best is None or len(agent_target) > len(best[0]):
                best = (agent_target, sidecar_target)
    if best is None:
        raise RequestError(
            f"the working folder {cwd} is outside the workspace {workspace}: routed commands run "
            f"only in folders the agent shares with {toolchain}; cd into the workspace first"
        )
    rel = posixpath.relpath(cwd, best[0])
    return best[1] if rel == "." else posixpath.join(best[1], rel)


def open_dir(req_root: int, name: str) -> int:
    """The request folder `name` (never through a symlink); RequestError if anything is off."""
    if not NAME.fullmatch(name):
        raise RequestError("malformed request name")
    try:
        return os.open(name, DIR_FLAGS, dir_fd=req_root)
    except OSError as exc:
        raise RequestError(f"request folder: {exc.strerror}") from exc


FIFOS = ("in", "out", "err", "sig")


def check_fifos(dir_fd: int) -> None:
    """The request folder's streams are FIFOs (not files, links or folders the agent put there):
    checked before anything runs (the pump checks each again as it opens it)."""
    for name in FIFOS:
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError as exc:
            raise RequestError(f"{name}: {exc.strerror}") from exc
        if not stat.S_ISFIFO(info.st_mode):
            raise RequestError(f"the request's {name} is not a FIFO")


def read_request(dir_fd: int) -> bytes:
    """The `req` file's bytes: a regular file with one link (a file hard-linked into many
    requests would be read, and audited, once per link), at most MAX_REQUEST bytes."""
    try:
        fd = os.open(
            "req", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd
        )
    except OSError as exc:
        raise RequestError(f"request: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RequestError("the request is not a regular file")
        if info.st_nlink != 1:
            raise RequestError("the request file has other links")
        if info.st_size > MAX_REQUEST:
            raise RequestError(f"the request is larger than {MAX_REQUEST} bytes")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_REQUEST:
            chunk = os.read(fd, MAX_REQUEST + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise RequestError(f"request: {exc.strerror}") from exc
    finally:
        os.close(fd)


def open_request(req_root: int, name: str) -> tuple[int, bytes]:
    """The request folder's fd and its `req` file's bytes; RequestError if anything is off."""
    dir_fd = open_dir(req_root, name)
    try:
        return dir_fd, read_request(dir_fd)
    except BaseException:
        os.close(dir_fd)
        raise


def open_fifo(dir_fd: int, name: str, flags: int) -> int:
    """A FIFO of the request folder, non-blocking, never through a symlink; OSError(ENXIO) when
    opening the write end of a FIFO nobody reads yet (retry)."""
    fd = os.open(name, flags | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    if not stat.S_ISFIFO(os.fstat(fd).st_mode):
        os.close(fd)
        raise RequestError(f"{name} is not a FIFO")
    return fd


def write_file(dir_fd: int, name: str, text: str) -> None:
    """A new small file in the request folder (never through a symlink, never over one)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def answer(dir_fd: int, message: bytes, code: int) -> None:
    """Refuse a request: the message on its stderr, the exit code, both streams closed."""
    deadline = time.monotonic() + 10.0
    fds: dict[str, int] = {}
    try:
        while len(fds) < 2 and time.monotonic() < deadline:
            for fifo in ("out", "err"):
                if fifo not in fds:
                    try:
                        fds[fifo] = open_fifo(dir_fd, fifo, os.O_WRONLY)
                    except OSError:
                        pass
            if len(fds) < 2:
                time.sleep(0.005)
        if "err" in fds:
            try:
                os.write(fds["err"], message)
            except OSError:
                pass
        try:
            write_file(dir_fd, "exit", f"{code}\n")
        except OSError:
            pass
    finally:
        for fd in fds.values():
            os.close(fd)
