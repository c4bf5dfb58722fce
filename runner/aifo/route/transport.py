"""How the router reaches an agent's route folder: the two transports, behind one surface.

- `FolderTransport`: the folder is a host folder bound into the agent (Docker, Podman: the
  engine's containers run here). The router reads the control FIFO and each request's files and
  FIFOs directly, through directory descriptors (aifo.route.folder, aifo.route.request).
- `aifo.route.execroute.ExecTransport`: the folder is a tmpfs inside the agent (Swarm: the agent
  runs on another machine); the router reaches it only through the engine's exec of the agent's
  own container.

Both feed the same router: the same request checks, refusals, limits and audit records.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Protocol

from aifo.route import folder as F
from aifo.route.pump import Ends, FifoEnds
from aifo.route.request import answer, check_fifos, open_dir, read_request, write_file
from aifo.route.shim import MESSAGE_SIZE

Tools = Mapping[str, tuple[str, Iterable[str]]]  # tool -> (toolchain id, pass_env)


class Taken(Protocol):
    """One request a router took (marked `taken`: no other router runs it)."""

    def read(self) -> bytes:
        """The request's bytes, bounded (aifo.route.request.MAX_REQUEST + 1 at most);
        RequestError when it is not a plain file, or its streams are not FIFOs."""

    def answer(self, message: bytes, code: int) -> None:
        """Refuse it: `message` on its stderr, `code` as its exit code."""

    def queued(self) -> None:
        """Say in its folder that it waits for a slot (`queued`)."""

    def ends(self) -> Ends:
        """Its stdin, stdout, stderr and signals, for the pump."""

    def write_exit(self, code: int) -> None:
        """Its exit code, written before its stdout and stderr close."""

    def close(self) -> None: ...


class Transport(Protocol):
    """One agent's route folder as one router sees it."""

    folder: F.Folder  # `private` (host-only: locks, slots) is used by every transport

    def lock(self) -> AbstractContextManager[None]:
        """Held while this router serves; the last one out clears the route (aifo.route.folder
        .router_lock)."""

    def start(self) -> int:
        """Make the control FIFO if needed and start reading it: a descriptor to poll."""

    def messages(self) -> Iterator[bytes]:
        """The control messages readable now (one per request, MESSAGE_SIZE bytes each)."""

    def take(self, name: str) -> Taken | None:
        """Mark request `name` taken; None when it was taken already (a repeated message).
        RequestError when there is no such request folder."""

    def finished(self, name: str) -> None:
        """Request `name` is answered: its folder may go once its shim has read the code."""

    def refuser(self) -> Callable[[str], None] | None:
        """None: refusals go through the request folder's FIFOs directly (aifo.route.overflow);
        else a function refusing one request by name, run on the overflow's thread."""

    def req_fd(self) -> int | None:
        """The request folder's descriptor when it is on this machine."""

    def stop(self) -> None:
        """Stop reading, remove what it can of answered requests; never raises."""


class FifoTaken:
    def __init__(self, dir_fd: int) -> None:
        self.dir_fd = dir_fd

    def read(self) -> bytes:
        data = read_request(self.dir_fd)
        check_fifos(self.dir_fd)
        return data

    def answer(self, message: bytes, code: int) -> None:
        answer(self.dir_fd, message, code)

    def queued(self) -> None:
        write_file(self.dir_fd, "queued", "")

    def ends(self) -> Ends:
        return FifoEnds(self.dir_fd)

    def write_exit(self, code: int) -> None:
        write_file(self.dir_fd, "exit", f"{code}\n")

    def close(self) -> None:
        os.close(self.dir_fd)


class FolderTransport:
    """The route folder on this machine, bound into the agent (the faster transport)."""

    def __init__(self, folder: F.Folder) -> None:
        self.folder = folder
        self.ctl = -1
        self._req = -1

    def lock(self) -> AbstractContextManager[None]:
        return F.router_lock(self.folder)

    def start(self) -> int:
        # A router that died may have left the FIFO removed by another's exit: make it again.
        F.prepare_ctl(self.folder)
        self.ctl = F.open_ctl(self.folder)
        self._req = os.open(self.folder.path / "req", F.DIR_FLAGS)
        return self.ctl

    def messages(self) -> Iterator[bytes]:
        while True:
            try:
                yield os.read(self.ctl, MESSAGE_SIZE)
            except BlockingIOError:
                return

    def take(self, name: str) -> Taken | None:
        dir_fd = open_dir(self._req, name)
        try:
            write_file(dir_fd, "taken", "")
        except OSError:  # taken already: a repeated message (one request runs once)
            os.close(dir_fd)
            return None
        return FifoTaken(dir_fd)

    def finished(self, name: str) -> None:
        F.remove_at(self._req, name)  # never raises (a planted tree, a FIFO, ...)

    def refuser(self) -> Callable[[str], None] | None:
        return None

    def req_fd(self) -> int | None:
        return self._req

    def stop(self) -> None:
        for fd in (self.ctl, self._req):
            if fd >= 0:
                os.close(fd)
        self.ctl = self._req = -1
