"""destroy: remove everything labelled with a session, containers → networks → volumes.

The session's host guard rules (aifo.apply.guard) go after its networks, found by their comment.

Label-driven (the spec may be gone), idempotent, never touches unlabelled or external objects.
Volumes only when asked. Containers are stopped gracefully in reverse dependency order (from
their `io.aifo.depends-on` labels: agents before the toolchains and services they use; one
`docker stop` per layer), then removed in one call; networks and volumes in parallel.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aifo.apply import PARALLEL
from aifo.apply.events import Emit, Event, ignore
from aifo.apply.guard import unguard_quietly
from aifo.engine.api import Engine, Labelled
from aifo.errors import AifoError, DestroyFailed, EngineUnavailable, NotFound


@dataclass(frozen=True)
class Destroyed:
    """What a destroy removed, and the volumes it kept."""

    containers: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    kept_volumes: tuple[str, ...] = ()

    @property
    def removed(self) -> int:
        return len(self.containers) + len(self.networks) + len(self.volumes)


def destroy(
    engine: Engine,
    session: str,
    *,
    volumes: bool = False,
    emit: Emit = ignore,
    parallel: int = PARALLEL,
    found: Labelled | None = None,
    timeout_s: float = 10.0,
) -> Destroyed:
    """`found`: what the caller already listed (`engine.labelled(session)`), else listed here.
    `timeout_s`: how long each container gets to exit after SIGTERM before it is killed."""
    snap = found if found is not None else engine.labelled(session)
    failures: list[str] = []
    containers = sorted(snap.containers)
    if containers:
        start = time.monotonic()
        for layer in stop_order(containers, snap.depends):
            names, verb = f"{len(layer)} container(s)", "stop_containers"
            emit(Event("action.start", id=names, op=verb))
            began = time.monotonic()
            try:  # best effort: `rm -f` below kills whatever a failed stop left running
                engine.stop_containers([snap.containers[n] for n in layer], timeout_s=timeout_s)
            except EngineUnavailable:
                raise
            except AifoError as exc:
                emit(Event("action.failed", id=names, op=verb, message=f"{exc} (removing anyway)"))
            else:
                took = time.monotonic() - began
                emit(Event("action.done", id=names, op=verb, duration_s=took))
        ids = [snap.containers[name] for name in containers]
        try:
            engine.remove_containers(ids)
            for name in containers:
                emit(Event("remove.done", kind="container", docker_name=name))
        except AifoError as exc:
            failures.append(f"containers: {exc}")
        emit(Event("remove.batch", kind="container", duration_s=time.monotonic() - start))
    networks = sorted(snap.networks)
    failures += _parallel(
        "network", networks, lambda n: engine.remove_network(snap.networks[n]), emit, parallel
    )
    try:  # after the containers: no moment where one runs unguarded
        unguard_quietly(engine, session)
    except AifoError as exc:
        failures.append(f"host guard rules: {exc}")
    removable = sorted(snap.volumes) if volumes else []
    failures += _parallel("volume", removable, engine.remove_volume, emit, parallel)
    if failures:
        raise DestroyFailed(
            f"could not remove everything of session {session!r}:\n  - " + "\n  - ".join(failures)
        )
    kept = () if volumes else tuple(sorted(snap.volumes))
    return Destroyed(tuple(containers), tuple(networks), tuple(removable), kept)


def stop_order(names: Sequence[str], depends: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Layers to stop one after another: first the containers nothing left depends on, then
    what they depended on, and so on (the reverse of apply's start order). Containers from
    before the label existed depend on nothing; a cycle (aifo never applies one) is one layer."""
    left = set(names)
    layers: list[list[str]] = []
    while left:
        needed = {d for n in left for d in depends.get(n, ()) if d in left and d != n}
        layer = sorted(left - needed) or sorted(left)
        layers.append(layer)
        left -= set(layer)
    return layers


def _parallel(
    kind: str, names: Sequence[str], remove: Callable[[str], None], emit: Emit, parallel: int
) -> list[str]:
    def one(name: str) -> str | None:
        try:
            remove(name)
        except NotFound:
            pass
        except AifoError as exc:
            return f"{kind} {name}: {exc}"
        emit(Event("remove.done", kind=kind, docker_name=name))
        return None

    if not names:
        return []
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return [f for f in pool.map(one, names) if f]
