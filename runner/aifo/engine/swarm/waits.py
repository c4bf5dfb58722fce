"""The waits Swarm needs where one host's engine answers only when done.

Swarm accepts a service's create, scale or removal at once and converges later: a task starts
(or is rejected) after the call returned, and a removed service's containers run on for up to
~6 s, while Swarm already accepts removing their network. So:

- `until_running`: a service's new task runs; a task that ends first fails at once, never
  retried for ever: with Swarm's own error when it could not start (`rejected`: no such image,
  a bad mount; `failed` while starting), as a container exited with its code when it ran;
- `until_gone`: no container of the services is left on their node (removal), or none runs
  (scale to 0), read from the node's own engine (the manager forgets a removed service's tasks
  before their containers are gone).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence

from aifo.engine.socket_engine import SocketEngine
from aifo.engine.swarm.tasks import ENDED, TaskRef, TaskRounds, tasks_of
from aifo.engine.wire import Wire
from aifo.errors import EngineError, TaskFailed, VerificationFailed

START_TIMEOUT_S = 60.0  # scheduling, image check, container start: ~0.6-6 s measured here
GONE_TIMEOUT_S = 60.0  # stop grace (10 s) plus Swarm's own latency
POLL_S = 0.1
# a start's polls: one `GET /tasks` per round for all of the engine's waits (TaskRounds), so
# twice as often as POLL_S costs a 2-container session the requests one poll per container at
# POLL_S did, and halves the ~50 ms a task's start waited on average for the next poll
START_POLL_S = 0.05
# ...but only once a task is `starting`: before that (new, pending, assigned, preparing: the
# node checks the image and creates the container) it cannot be running by the next poll.
# Measured here: `starting` at 650-850 ms after the create, running at 1.1-1.3 s; with 5
# applies at once a start takes 2-3 s, and every poll is a listing the manager builds on the
# cores its nodes start tasks on. A rejected task is seen at most EARLY_POLL_S later.
EARLY_POLL_S = 0.15
SERVICE_LABEL = "com.docker.swarm.service.id"  # on every task container (Swarm's own label)


def until_running(
    manager: Wire,
    services: Mapping[str, str],
    before: Mapping[str, set[str]],
    *,
    timeout_s: float = START_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
    rounds: TaskRounds | None = None,
) -> dict[str, TaskRef]:
    """Service id -> its new running task (one not in `before[id]`); `services` maps id ->
    the name to report. Raises TaskFailed at the first new task that ended, EngineError on
    timeout. `rounds`: the engine's shared rounds (other threads' waits in the same request)."""
    if rounds is None:
        rounds = TaskRounds(manager)
    with rounds.watching(services):
        return _until_running(rounds, services, before, timeout_s, sleep)


def _until_running(
    rounds: TaskRounds,
    services: Mapping[str, str],
    before: Mapping[str, set[str]],
    timeout_s: float,
    sleep: Callable[[float], None],
) -> dict[str, TaskRef]:
    deadline = time.monotonic() + timeout_s
    done: dict[str, TaskRef] = {}
    while True:
        todo = [sid for sid in services if sid not in done]
        if not todo:
            return done
        starting = False
        for sid, tasks in rounds.tasks_of(todo).items():
            new = [t for t in tasks if t.id not in before.get(sid, set())]
            for task in new:
                if task.running:
                    done[sid] = task
                    break
                if task.state in ENDED and task.state != "shutdown":
                    raise failed(services[sid], task)
                starting = starting or task.state in ("starting", "running")
        if len(done) == len(services):
            return done
        if time.monotonic() > deadline:
            names = ", ".join(services[s] for s in services if s not in done)
            raise EngineError(
                f"{names}: no task running after {timeout_s:g} s on Swarm",
                hint="`docker service ps --no-trunc NAME` on the manager says why",
            )
        sleep(START_POLL_S if starting else EARLY_POLL_S)


def failed(name: str, task: TaskRef) -> EngineError:
    """Why a start ended with `task` ended: TaskFailed when it could not start; when its
    container ran and exited, what one host's apply says of a container exited after its
    start, failing closed (VerificationFailed): its secure defaults are read from the running
    task's /proc/1/status, which an exited task no longer has (docs/swarm.md)."""
    if task.exited:
        return VerificationFailed(
            f"container {name} is exited (exit code {task.exit_code}), not running: its task "
            "ended before aifo could verify its secure defaults on Swarm (no-new-privileges, "
            "capabilities and seccomp are read from the running task's /proc/1/status)",
            hint=EXITED_HINT,
        )
    why = task.error or f"its task is {task.state}"
    return TaskFailed(f"container {name} could not start on Swarm: {why}", hint=_hint(task.error))


EXITED_HINT = (
    "a session's containers must keep running after apply, as on one host; run a one-shot "
    "step as a hook (`hooks: [{name: setup, run: ...}]`) of a container that stays up"
)


def ended(
    manager: Wire,
    task: TaskRef,
    *,
    timeout_s: float = 3.0,
    sleep: Callable[[float], None] = time.sleep,
) -> TaskRef | None:
    """`task` as it ended, when it ends within `timeout_s` (Swarm reports a task's end a
    moment after its container's); None while it runs on."""
    deadline = time.monotonic() + timeout_s
    while True:
        now = next((t for t in tasks_of(manager, [task.service_id])[task.service_id]
                    if t.id == task.id), None)  # fmt: skip
        if now is not None and now.state in ENDED:
            return now
        if time.monotonic() > deadline:
            return None
        sleep(POLL_S)


def _hint(error: str) -> str | None:
    if "No such image" in error:
        return "load the image into the session's node (docker save | docker -H NODE load)"
    if "bind source path does not exist" in error or "invalid mount" in error:
        return "a bind source must exist on the session's node"
    return None


def task_ids(manager: Wire, service_ids: Sequence[str]) -> dict[str, set[str]]:
    return {sid: {t.id for t in tasks} for sid, tasks in tasks_of(manager, service_ids).items()}


def task_containers(
    engine: SocketEngine, service_ids: Sequence[str], *, running_only: bool = False
) -> list[str]:
    """The ids of the containers of `service_ids` on the node (label filters AND together:
    one listing per service)."""
    out: list[str] = []
    for sid in service_ids:
        query: dict[str, object] = {"filters": json.dumps({"label": [f"{SERVICE_LABEL}={sid}"]})}
        if not running_only:
            query["all"] = 1
        found = engine.wire.call(
            "GET", "/containers/json", op="list task containers on", obj=engine.wire.path,
            query=query,
        )  # fmt: skip
        out += [str(c.get("Id", "")) for c in found or [] if isinstance(c, dict)]
    return out


def _containers(engine: SocketEngine, service_ids: Sequence[str], running_only: bool) -> int:
    return len(task_containers(engine, service_ids, running_only=running_only))


def until_gone(
    engines: Sequence[SocketEngine],
    service_ids: Sequence[str],
    *,
    running_only: bool = False,
    timeout_s: float = GONE_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Until no container of `service_ids` is left (or runs) on any of `engines`."""
    if not service_ids:
        return
    deadline = time.monotonic() + timeout_s
    while any(_containers(e, service_ids, running_only) for e in engines):
        if time.monotonic() > deadline:
            raise EngineError(
                f"the task containers of {len(service_ids)} service(s) are still there after "
                f"{timeout_s:g} s",
                hint="`docker ps -a --filter label=com.docker.swarm.service.id=ID` on the node",
            )
        sleep(POLL_S)


# A task's states between its node taking it and running: the node may be making its container
ON_A_NODE = frozenset({"assigned", "accepted", "preparing", "ready", "starting"})


def until_settled(
    manager: Wire,
    service_ids: Sequence[str],
    *,
    timeout_s: float = GONE_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Until no task of `service_ids` is in its node's hands on its way to running
    (`assigned` … `starting`). Such a node may still create the task's container after the
    service is deleted and its containers waited for, and with it any volume the container
    mounts that is gone by then: Docker makes it anew, unlabelled, and the next apply finds a
    foreign volume under the session's name (found: a rollback of an apply killed while its
    tasks started). Tasks not yet on a node (`new`, `pending`), running and ended ones are
    settled. One GET /tasks when none is starting."""
    if not service_ids:
        return
    deadline = time.monotonic() + timeout_s
    while any(t.state in ON_A_NODE for ts in tasks_of(manager, service_ids).values() for t in ts):
        if time.monotonic() > deadline:
            raise EngineError(
                f"tasks of {len(service_ids)} service(s) are still starting after {timeout_s:g} s",
                hint="`docker service ps ID` on the manager",
            )
        sleep(START_POLL_S)


def network_in_use(engines: Sequence[SocketEngine], network: str) -> bool:
    """Whether a container on any of `engines` is still attached to `network` (404: the node
    has no copy of it; any other refusal raises: not known to be free is not free)."""
    for engine in engines:
        reply = engine.wire.request("GET", f"/networks/{network}")
        if not reply.ok and reply.status != 404:
            from aifo.engine.translate import translate

            raise translate("inspect network", f"{network} on {engine.wire.path}", reply.status,
                            reply.message())  # fmt: skip
        if reply.ok:
            data = reply.json()
            attached = data.get("Containers") if isinstance(data, dict) else None
            # `lb-NAME`: the node's own endpoint of the overlay, not a container
            if any(not str(k).startswith("lb-") for k in attached or {}):
                return True
    return False


def until_network_free(
    engines: Sequence[SocketEngine],
    network: str,
    *,
    timeout_s: float = GONE_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    deadline = time.monotonic() + timeout_s
    while network_in_use(engines, network):
        if time.monotonic() > deadline:
            raise EngineError(
                f"network {network}: containers are still attached after {timeout_s:g} s"
            )
        sleep(POLL_S)


def until_unlisted(
    manager: Wire,
    network: str,
    *,
    timeout_s: float = GONE_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Until the manager no longer has `network`: Swarm removes a network asynchronously, and
    a session's next command (or destroy's check) must not find it."""
    deadline = time.monotonic() + timeout_s
    while manager.request("GET", f"/networks/{network}").status != 404:
        if time.monotonic() > deadline:
            raise EngineError(f"network {network} is still there {timeout_s:g} s after removal")
        sleep(POLL_S)


def until_allocated(
    manager: Wire,
    network: str,
    *,
    timeout_s: float = START_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Until Swarm has allocated a new overlay: before that the manager reports it without a
    driver, which apply's check of the networks would take for a different network."""
    deadline = time.monotonic() + timeout_s
    while True:
        reply = manager.request("GET", f"/networks/{network}")
        data = reply.json() if reply.ok else None
        if isinstance(data, dict) and data.get("Driver"):
            return
        if time.monotonic() > deadline:
            raise EngineError(f"network {network}: Swarm did not allocate it in {timeout_s:g} s")
        sleep(POLL_S / 4)
