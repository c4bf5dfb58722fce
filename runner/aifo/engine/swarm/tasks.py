"""A service's tasks, as the manager reports them: where each runs and in which container.

Exec, logs and verification go to the node running a service's task (`aifo.engine.swarm.nodes`);
this module finds that task. One `GET /tasks` per question, filtered by service on the manager.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aifo.engine.translate import translate
from aifo.engine.wire import Wire
from aifo.errors import EngineError, NotFound

# Swarm's task states that end a task for good (it is not retried into running again)
ENDED = frozenset({"complete", "failed", "shutdown", "rejected", "orphaned", "remove"})


@dataclass(frozen=True)
class TaskRef:
    """One task of a service: its node, its container there (None until it has one), its state
    (`new` … `running`, `failed`, `rejected`, …) and the error Swarm gave (`""`: none)."""

    service_id: str
    node_id: str
    container_id: str | None
    state: str
    error: str
    id: str = ""
    desired: str = ""  # the state Swarm wants it in: `running`, or `shutdown` once replaced
    updated: str = ""  # RFC 3339: the newest task of a service sorts last
    message: str = ""  # Swarm's last step: `starting`, `started` (its container ran), `finished`
    exit_code: int | None = None  # its container's, once it has ended

    @property
    def running(self) -> bool:
        return self.state == "running" and self.desired == "running" and bool(self.container_id)

    @property
    def exited(self) -> bool:
        """Its container started, then its command ended (exit 0: `complete`; else `failed`
        after `started`): a container that exited, as on one host, not one that could not
        start (`rejected`, or `failed` while `starting`: no such program, a bad mount)."""
        if self.container_id is None or self.exit_code is None:
            return False
        return self.state == "complete" or (self.state == "failed" and self.message == "started")


def task_of(data: Mapping[str, Any]) -> TaskRef:
    """A `GET /tasks` item as a TaskRef."""
    status = data.get("Status")
    status = status if isinstance(status, Mapping) else {}
    container = status.get("ContainerStatus")
    container = container if isinstance(container, Mapping) else {}
    cid = container.get("ContainerID")
    code = container.get("ExitCode")
    return TaskRef(
        service_id=str(data.get("ServiceID", "")),
        node_id=str(data.get("NodeID", "")),
        container_id=str(cid) if cid else None,
        state=str(status.get("State", "")),
        error=str(status.get("Err", "")),
        id=str(data.get("ID", "")),
        desired=str(data.get("DesiredState", "")),
        updated=str(data.get("UpdatedAt", "")),
        message=str(status.get("Message", "")),
        exit_code=code if isinstance(code, int) and str(status.get("State")) in ENDED else None,
    )


def _list(manager: Wire, filters: Mapping[str, list[str]], what: str) -> list[TaskRef]:
    reply = manager.request("GET", "/tasks", query={"filters": json.dumps(filters)})
    if reply.status == 404:  # "service x not found": the rule table knows no services
        raise NotFound(f"list the tasks of {what}: {reply.message()}")
    if not reply.ok:
        raise translate("list the tasks of", what, reply.status, reply.message())
    data = reply.json()
    if not isinstance(data, list):
        raise EngineError(f"list the tasks of {what}: the manager's answer is not a list")
    tasks = [task_of(d) for d in data if isinstance(d, Mapping)]
    return sorted(tasks, key=lambda t: (t.updated, t.id))


def tasks_of(manager: Wire, service_ids: Iterable[str]) -> dict[str, list[TaskRef]]:
    """Service id -> its tasks, oldest first (one `GET /tasks`; every id asked for is a key)."""
    ids = list(dict.fromkeys(service_ids))
    out: dict[str, list[TaskRef]] = {sid: [] for sid in ids}
    if not ids:
        return out
    for task in _list(manager, {"service": ids}, f"{len(ids)} services"):
        out.setdefault(task.service_id, []).append(task)
    return out


def running_task(manager: Wire, service_ref: str) -> TaskRef | None:
    """The running task of a service (named or id'd), the newest if several; None when none
    runs (not started, scaled to 0, still starting, or failed: `tasks_of` tells which)."""
    tasks = _list(manager, {"service": [service_ref], "desired-state": ["running"]}, service_ref)
    running = [t for t in tasks if t.running]
    return running[-1] if running else None


class TaskRounds:
    """The tasks of every service this engine is waiting for, one `GET /tasks` per round.

    The transaction starts a session's containers on threads of their own, each waiting for its
    task: without this, each thread polls the manager for its own service (n requests a round
    for n containers, each a listing the manager builds and the client parses; on a loaded
    machine that CPU is the Swarm agents'). A thread asks for its services; a round younger
    than `fresh_s` that covered them answers it, else one request for every service any
    thread is `watching` makes a new round."""

    def __init__(
        self,
        manager: Wire,
        *,
        fresh_s: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._manager = manager
        self._fresh_s = fresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._watched: Counter[str] = Counter()
        self._at = float("-inf")
        self._last: dict[str, list[TaskRef]] = {}

    @contextmanager
    def watching(self, service_ids: Iterable[str]) -> Iterator[None]:
        """While inside, `service_ids` are asked for in every round (by whichever thread)."""
        ids = list(dict.fromkeys(service_ids))
        with self._lock:
            self._watched.update(ids)
        try:
            yield
        finally:
            with self._lock:
                self._watched.subtract(ids)
                self._watched = +self._watched  # drop the zeros

    def tasks_of(self, service_ids: Iterable[str]) -> dict[str, list[TaskRef]]:
        """As `tasks_of(manager, ids)`, from a fresh enough round when one covers them."""
        ids = list(dict.fromkeys(service_ids))
        with self._lock:
            fresh = self._clock() - self._at <= self._fresh_s
            if not (fresh and all(sid in self._last for sid in ids)):
                asked = list(dict.fromkeys([*ids, *self._watched]))
                self._last = tasks_of(self._manager, asked)
                self._at = self._clock()
            return {sid: self._last.get(sid, []) for sid in ids}
