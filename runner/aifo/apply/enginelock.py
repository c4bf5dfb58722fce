"""The session lock in the engine: who may change a session, whatever state folder, user or
machine they come from.

The lock is a container named `aifo-<session>.lock`, created (never started) with the session's
labels and its holder in `io.aifo.lock.holder` (user, host, PID, command, when, lease). Docker
reserves container names atomically, so of two concurrent creates exactly one wins; a network
or volume would not do (`docker network create` races, `docker volume create` is idempotent).
It is removed when the command ends, so nothing of a destroyed or rolled-back session remains.

A holder that died is taken over: at once when it ran on this host (same kernel boot and PID
namespace: its PID is gone, or belongs to a process started later), by its lease otherwise (a
holder elsewhere can't be asked; its lease is `lease_s` from when it took the lock). The take
over removes the dead holder's lock by id, so two waiters can't both win: the second one's
removal finds nothing and it tries again.

Anyone with access to the engine can make a container with the lock's name and labels, so the
lock object is evidence, never instructions: a takeover needs facts (a lock is a container that
was never started; a holder on this host is dead by /proc; a holder record that can't be read is
never taken over), and it runs nothing the lock names. What a dead holder left unfinished is
recovered only from this user's own state folder, for this session, by the caller (the journal
there is the caller's; aifo.apply.hold).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from aifo import __version__
from aifo.apply.events import Notify
from aifo.engine.api import Engine
from aifo.errors import Conflict, EngineError, LockTimeout, NotFound, StateError
from aifo.model import (
    LABEL_LOCK_HOLDER,
    LABEL_RESOURCE,
    LABEL_SESSION,
    LABEL_VERSION,
    LOCK_RESOURCE,
    is_lock,
)

LEASE_S = 1800.0  # a holder on another host counts as alive this long after taking the lock
POLL_S = 0.2

_HELD: set[str] = set()  # tokens of the locks this process holds now


def lock_name(session: str) -> str:
    return f"aifo-{session}.lock"


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _host_key() -> str:
    """This kernel boot and PID namespace: where a holder's PID can be checked."""
    try:
        pidns = str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        pidns = ""
    return f"{_read('/proc/sys/kernel/random/boot_id')}/{pidns}/{socket.gethostname()}"


def _started(pid: int) -> str:
    """When a process started (clock ticks since boot), "" when unknown: tells a PID reused
    by a later process from the holder."""
    fields = _read(f"/proc/{pid}/stat").rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


@dataclass(frozen=True)
class Holder:
    """Who holds a session's engine-side lock, and since when."""

    user: str
    host: str  # the host name, for people
    pid: int
    command: str
    acquired: float  # epoch seconds
    lease_s: float
    host_key: str  # boot id / PID namespace / host name: where `pid` means this process
    started: str  # the process's start time, against PID reuse
    token: str  # this acquisition

    @classmethod
    def here(cls, command: str, lease_s: float) -> Holder:
        pid = os.getpid()
        return cls(
            user=_user(),
            host=socket.gethostname(),
            pid=pid,
            command=command,
            acquired=time.time(),
            lease_s=lease_s,
            host_key=_host_key(),
            started=_started(pid),
            token=os.urandom(8).hex(),
        )

    @classmethod
    def from_label(cls, text: str | None) -> Holder | None:
        try:
            data = json.loads(text or "")
            holder = cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except (ValueError, TypeError, KeyError, RecursionError):
            return None
        # the label is anyone's text: numbers must be numbers, and texts texts
        numbers = {type(holder.acquired), type(holder.lease_s)}
        if type(holder.pid) is not int or holder.pid <= 0 or not numbers <= {int, float}:
            return None
        if not all(
            isinstance(getattr(holder, f), str)
            for f in ("user", "host", "command", "host_key", "started", "token")
        ):
            return None
        return holder

    def label(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.acquired, UTC).strftime("%H:%M:%S UTC")
        return f"`aifo {self.command}` (PID {self.pid}, {self.user}@{self.host}, since {since})"

    def alive(self, now: float) -> bool:
        """Same host: is its process still there? Elsewhere: is its lease still running?"""
        if self.host_key == _host_key():
            if self.pid == os.getpid():
                return self.token in _HELD  # else a lock this process leaked
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                pass  # another user's process: it exists
            return not self.started or _started(self.pid) in ("", self.started)
        return now < self.acquired + self.lease_s


class EngineLock:
    """Hold the session's lock in the engine for a `with` block; waits up to `timeout_s`."""

    def __init__(
        self,
        engine: Engine,
        session: str,
        *,
        command: str,
        timeout_s: float = 30.0,
        lease_s: float = LEASE_S,
        notify: Notify | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.session = session
        self.name = lock_name(session)
        self.command = command
        self.timeout_s = timeout_s
        self.lease_s = lease_s
        self.notify = notify or (lambda _m: None)
        self._sleep = sleep
        self._clock = clock
        self.id: str | None = None
        self.token = ""

    def labels(self, holder: Holder) -> dict[str, str]:
        return {
            LABEL_SESSION: self.session,
            LABEL_RESOURCE: LOCK_RESOURCE,
            LABEL_VERSION: __version__,
            LABEL_LOCK_HOLDER: holder.label(),
        }

    def acquire(self) -> None:
        deadline = self._clock() + self.timeout_s
        while True:
            holder = Holder.here(self.command, self.lease_s)
            try:
                self.id = self.engine.create_lock(self.name, self.labels(holder))
            except Conflict:
                pass
            else:
                self.token = holder.token
                _HELD.add(holder.token)
                return
            current = self.engine.inspect_containers([self.name])
            if not current:
                continue  # released in between: try again at once
            found = current[0]
            if (
                found.labels.get(LABEL_SESSION) != self.session
                or not is_lock(found.labels)
                or found.state != "created"  # aifo never starts a lock: someone else made it
            ):
                raise StateError(
                    f"a container named {self.name!r} exists but is not session "
                    f"{self.session!r}'s lock; aifo won't remove it",
                    hint="rename or remove that container, or change the session name",
                )
            other = Holder.from_label(found.labels.get(LABEL_LOCK_HOLDER))
            if other is None:
                raise StateError(
                    f"session {self.session!r} is locked by {self.name!r}, whose holder record "
                    "can't be read, so aifo can't tell whether its holder is alive",
                    hint=f"once you are sure no aifo command runs on it: docker rm {self.name}",
                )
            if not other.alive(time.time()):
                self._take_over(found.id, other)
                continue
            if self._clock() >= deadline:
                raise LockTimeout(
                    f"session {self.session!r} is locked by {other.describe()} "
                    f"(waited {self.timeout_s:g}s)",
                    hint=_hint(other, self.name),
                )
            self._sleep(POLL_S)

    def _take_over(self, ref: str, dead: Holder) -> bool:
        who = dead.describe()
        try:
            self.engine.remove_lock(ref)  # by id: a newer lock under the name is left alone
        except NotFound:
            return False
        self.notify(f"took over the lock of session {self.session!r} from {who}, which is gone")
        return True

    def release(self) -> None:
        if self.id is None:
            return
        ref, self.id = self.id, None
        _HELD.discard(self.token)
        try:
            self.engine.remove_lock(ref)
        except NotFound:
            self.notify(
                f"the lock of session {self.session!r} was gone at the end "
                "(its lease ran out and another holder took it over?)"
            )
        except EngineError as exc:  # the command's own outcome stands; this PID ends soon
            self.notify(
                f"could not release the lock of session {self.session!r} ({exc}); the next "
                "command takes it over once this process has ended"
            )

    def __enter__(self) -> EngineLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _hint(holder: Holder, name: str) -> str:
    if holder.host_key == _host_key():
        return "wait for it to finish, or pass a longer --lock-timeout"
    until = datetime.fromtimestamp(holder.acquired + holder.lease_s, UTC).strftime("%H:%M UTC")
    return (
        f"wait for it to finish (pass a longer --lock-timeout); it runs on another host, so if "
        f"it died its lock is taken over after its lease ({until}), or remove it by hand with "
        f"`docker rm {name}` once you are sure it is gone"
    )
