"""Waiting for dependencies: `started` (running) or `healthy`, polled with one batched inspect.

Fails fast when a dependency exits, dies or turns unhealthy; times out per dependency after its
`readiness_timeout_s`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aifo.engine.api import Engine
from aifo.errors import NotReady
from aifo.model import Readiness
from aifo.observed import ObservedContainer

POLL_S = (0.05, 0.1, 0.2, 0.25)


@dataclass(frozen=True)
class Wait:
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


def wait_ready(engine: Engine, waits: Sequence[Wait], cancel: threading.Event) -> None:
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
            elif time.monotonic() - start > wait.timeout_s:
                raise NotReady(
                    f"{wait.rid}: not {wait.condition} after {wait.timeout_s:g}s "
                    "(readiness_timeout)"
                )
        if pending:
            time.sleep(POLL_S[min(polls, len(POLL_S) - 1)])
            polls += 1
