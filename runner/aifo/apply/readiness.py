"""Waiting for dependencies: `started` (running) or `healthy`, polled with one batched inspect.

Fails fast when a dependency exits, dies or turns unhealthy; times out per dependency after its
`readiness_timeout_s`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from aifo.apply.events import Emit, Event
from aifo.engine.api import Engine
from aifo.errors import NotReady
from aifo.model import Container, Readiness
from aifo.model.observed import ObservedContainer

POLL_S = (0.05, 0.1, 0.2, 0.25)


class Flag(Protocol):
    """What ends a wait early (a `threading.Event`, or a transaction that halted)."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Wait:
    """A container to wait for, until what, and for how long."""

    rid: str
    ref: str  # container id (or name)
    condition: Readiness
    timeout_s: float


def _match(ref: str, found: Sequence[ObservedContainer]) -> ObservedContainer | None:
    for o in found:
        if o.id == ref or o.id.startswith(ref) or o.name.lstrip("/") == ref:
            return o
    return None


def _check(wait: Wait, o: ObservedContainer | None) -> bool:
    """True when ready; raises when it never will be."""
    if o is None:
        raise NotReady(f"{wait.rid}: the container disappeared while waiting for it")
    if o.state in ("exited", "dead"):
        raise NotReady(f"{wait.rid}: exited with code {o.exit_code} before it was {wait.condition}")
    if wait.condition == "started":
        return o.state == "running"
    if o.health is None:
        raise NotReady(f"{wait.rid}: `healthy` was requested but it has no healthcheck")
    if o.health == "unhealthy":
        raise NotReady(f"{wait.rid}: became unhealthy")
    return o.health == "healthy"


def wait_ready(
    engine: Engine,
    waits: Sequence[Wait],
    cancel: Flag,
    on_ready: Callable[[Wait], None] | None = None,
) -> None:
    """Return when every wait is met; `on_ready` hears of each as it is (for live rows)."""
    pending = {w.ref: w for w in waits}
    start = time.monotonic()
    polls = 0
    while pending:
        if cancel.is_set():
            return  # the caller's next check raises Cancelled
        found = engine.inspect_containers(list(pending))
        for ref, wait in list(pending.items()):
            if _check(wait, _match(ref, found)):
                del pending[ref]
                if on_ready is not None:
                    on_ready(wait)
            elif time.monotonic() - start > wait.timeout_s:
                raise NotReady(
                    f"{wait.rid}: not {wait.condition} after {wait.timeout_s:g}s "
                    "(readiness_timeout)"
                )
        if pending:
            time.sleep(POLL_S[min(polls, len(POLL_S) - 1)])
            polls += 1


def waits_for_all(
    containers: Sequence[Container], ref: Callable[[str], str], timeout_s: float | None
) -> list[Wait]:
    """`apply --wait`: every container healthy (when it has a healthcheck) or running, within
    `timeout_s` (default: each container's `readiness_timeout`)."""
    return [
        Wait(
            c.id,
            ref(c.id),
            "healthy" if c.healthcheck is not None else "started",
            timeout_s if timeout_s is not None else c.readiness_timeout_s,
        )
        for c in sorted(containers, key=lambda c: c.id)
    ]


def waits_for_dependencies(
    c: Container, resources: Mapping[str, object], ref: Callable[[str], str]
) -> list[Wait]:
    """What `c` waits for before it starts: each dependency started or healthy (the strictest
    condition when it is named twice), within the dependency's `readiness_timeout`."""
    waits: dict[str, Wait] = {}
    for dep in c.depends_on:
        target = resources.get(dep.target)
        timeout = target.readiness_timeout_s if isinstance(target, Container) else 60.0
        at = ref(dep.target)
        previous = waits.get(at)
        condition = dep.condition
        if previous is not None and previous.condition == "healthy":
            condition = "healthy"
        waits[at] = Wait(dep.target, at, condition, timeout)
    return list(waits.values())


def wait_with_rows(engine: Engine, waits: Sequence[Wait], cancel: Flag, emit: Emit) -> None:
    """wait_ready, telling `emit` of each wait as it starts, is met, or is left unmet."""
    started = time.monotonic()
    pending = {w.rid: w for w in waits}
    for w in waits:
        emit(Event("action.start", id=w.rid, op="wait", data={"until": w.condition}))

    def ready(w: Wait) -> None:
        pending.pop(w.rid, None)
        took = time.monotonic() - started
        emit(
            Event("action.done", id=w.rid, op="wait", duration_s=took, data={"until": w.condition})
        )

    try:
        wait_ready(engine, waits, cancel, on_ready=ready)
    except Exception as exc:
        for rid, w in pending.items():
            message = str(exc) if str(exc).startswith(rid) else f"not {w.condition} yet"
            until = {"until": w.condition}
            emit(Event("action.failed", id=rid, op="wait", message=message, data=until))
        raise
