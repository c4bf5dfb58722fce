"""What a Swarm has for a session: services and tasks on the manager, networks (overlays) on the
manager, volumes on each node, and each running task's container inspected on its own node.

A service is reported as the container it stands for (`ObservedContainer`): its aifo name (the
`io.aifo.name` label; Swarm cannot rename), its labels, `running` when its newest task runs,
`created` at 0 replicas, and the isolation facts of the real task container, read through the
node's engine, so drift and verification judge what runs, not what was asked. A service changed
outside aifo (`docker service update`) no longer matches the digest aifo labelled it with: its
config hash is then reported as `changed-outside-aifo`, and the planner replaces it.
no-new-privileges cannot be read from an inspect (API 1.41 drops it; a node's daemon gives it):
it is reported only when the task's `/proc/1/status` says `NoNewPrivs: 1`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from aifo.engine import parse
from aifo.engine.socket_engine import SocketEngine
from aifo.engine.swarm import services as S
from aifo.engine.swarm.tasks import ENDED, TaskRef
from aifo.engine.swarm.verify import proc_status
from aifo.engine.wire import Wire, each
from aifo.errors import EngineError
from aifo.model import LABEL_HASH, LABEL_SESSION, LABEL_SWARM_DRIVER
from aifo.model.observed import ObservedContainer, ObservedNetwork, ObservedVolume

Json = dict[str, Any]
T = TypeVar("T")
R = TypeVar("R")
CHANGED = "changed-outside-aifo"
LABEL_DRIVER = LABEL_SWARM_DRIVER  # the spec's driver of an overlay aifo made (drift)
OVERLAY_MARK = "overlay:"  # `ObservedNetwork.bridge` of an overlay: no bridge on any host


def listing(
    manager: Wire, path: str, what: str, filters: Mapping[str, list[str]] | None = None
) -> list[Json]:
    query = {"filters": json.dumps(filters)} if filters else None
    data = manager.call("GET", path, op="list", obj=what, query=query)
    if isinstance(data, dict):  # /volumes
        data = data.get("Volumes")
    return [d for d in data or [] if isinstance(d, dict)]


def services(manager: Wire) -> list[Json]:
    """Every service (one `GET /services`): aifo's are told by label, others by name."""
    return listing(manager, "/services", "services")


# A session's own questions are asked with the manager's filters, so what aifo lists and parses
# per apply does not grow with the swarm (a listing of 50 services is ~74 KB: ~2 ms of the
# manager's CPU and ~1 ms of aifo's each time, measured; a team's swarm has many more).


def services_of(manager: Wire, session: str) -> list[Json]:
    """The services labelled with `session` (one filtered `GET /services`)."""
    return listing(manager, "/services", "services", {"label": [f"{LABEL_SESSION}={session}"]})


def candidates(manager: Wire, refs: Sequence[str], *, by_id: bool = True,
               by_label: bool = True) -> list[Json]:  # fmt: skip
    """Every service one of `refs` may name (`matches`: its id or an id prefix, its Swarm name,
    its aifo name), found with the manager's filters, at once: `id` and `name` match by prefix
    (one request each), the aifo name is a label (one request per ref, `by_label`). `resolve`
    over these answers as over every service of the swarm."""
    wanted = list(dict.fromkeys(r for r in refs if r))
    if not wanted:
        return []
    keys = (["id"] if by_id else []) + ["name"]
    asks: list[Callable[[], list[Json]]] = [
        lambda k=k: listing(manager, "/services", "services", {k: wanted})  # type: ignore[misc]
        for k in keys
    ]
    if by_label:
        asks += [
            lambda r=r: listing(  # type: ignore[misc]
                manager, "/services", "services", {"label": [f"{S.LABEL_NAME}={r}"]}
            )
            for r in wanted
        ]
    found: dict[str, Json] = {}
    for service in (s for batch in gather(asks) for s in batch):
        found.setdefault(str(service.get("ID", "")), service)
    return list(found.values())


def services_named(manager: Wire, names: Sequence[str], *, by_label: bool = True) -> list[Json]:
    """The services whose aifo name is one of `names`, whatever their session or owner (a
    foreign service under a name aifo would use must be seen); `by_label`: also those that
    carry the name only in their label (an aifo service's Swarm name starts with the name it
    was made under)."""
    found = candidates(manager, names, by_id=False, by_label=by_label)
    return [s for s in found if aifo_name(s) in names]


def aifo_name(service: Json) -> str:
    spec = service.get("Spec") or {}
    labels = spec.get("Labels") or {}
    return str(labels.get(S.LABEL_NAME) or spec.get("Name") or "")


def labels_of(service: Json) -> dict[str, str]:
    return {str(k): str(v) for k, v in ((service.get("Spec") or {}).get("Labels") or {}).items()}


def session_of(service: Json) -> str:
    return labels_of(service).get(LABEL_SESSION, "")


def matches(service: Json, ref: str) -> bool:
    """A ref names a service by id (or its prefix), Swarm name or aifo name."""
    sid = str(service.get("ID", ""))
    spec = service.get("Spec") or {}
    return bool(ref) and (
        sid == ref
        or (len(ref) >= 12 and sid.startswith(ref))
        or spec.get("Name") == ref
        or (spec.get("Labels") or {}).get(S.LABEL_NAME) == ref
    )


def resolve(found: Sequence[Json], refs: Sequence[str]) -> dict[str, Json]:
    """ref -> its service, for the refs that name one (aifo-labelled services first, so an aifo
    name wins over a foreign service's Swarm name)."""
    ordered = sorted(found, key=lambda s: S.LABEL_NAME not in labels_of(s))
    out: dict[str, Json] = {}
    for ref in refs:
        hit = next((s for s in ordered if matches(s, ref)), None)
        if hit is not None:
            out[ref] = hit
    return out


def network(data: Json) -> ObservedNetwork:
    """An overlay reported in the spec's terms: the driver the spec declared (the label aifo
    set), and a marker for a bridge, since an overlay has no interface on any host."""
    found = parse.network(data)
    labels = found.labels
    driver = labels.get(LABEL_DRIVER, found.driver) if found.driver == "overlay" else found.driver
    bridge = f"{OVERLAY_MARK}{found.id[:12]}" if found.driver == "overlay" else found.bridge
    return ObservedNetwork(
        id=found.id,
        name=found.name,
        labels=labels,
        driver=driver,
        internal=found.internal,
        subnets=found.subnets,
        bridge=bridge,
    )


def is_solo(net: ObservedNetwork) -> bool:
    return S.LABEL_SOLO in net.labels


def node_volumes(engines: Sequence[SocketEngine]) -> list[ObservedVolume]:
    """Every volume on every node reached (one `GET /volumes` per node, at once)."""
    results = each(lambda e: listing(e.wire, "/volumes", "volumes"), list(engines))
    out: list[ObservedVolume] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        out += [parse.volume(v) for v in result]
    return out


def newest(tasks: Sequence[TaskRef]) -> TaskRef | None:
    current = [t for t in tasks if t.desired == "running"] or list(tasks)
    return current[-1] if current else None


def task_facts(
    engine: SocketEngine, container_id: str, known: dict[str, dict[str, str]] | None = None
) -> tuple[Json | None, dict[str, str]]:
    """The task container's inspect and its `/proc/1/status` fields (empty when unreadable),
    through the node's engine. `known`: fields read before, by container id: a container's
    PID 1 is the same for its life and its no_new_privs bit can never be cleared, so one read
    per container serves every later observe of this engine (readiness polls, postconditions)."""
    reply = engine.wire.request("GET", f"/containers/{container_id}/json")
    if reply.status == 404:
        return None, {}
    if not reply.ok:
        raise EngineError(f"inspect task container {container_id[:12]}: {reply.message()}")
    data = reply.json()
    status = (known or {}).get(container_id)
    if status is None:
        status = proc_status(engine, container_id)
        if status and known is not None:
            known[container_id] = status
    return (data if isinstance(data, dict) else None), status


def container(
    service: Json,
    tasks: Sequence[TaskRef],
    inspected: Json | None,
    status: Mapping[str, str],
    net_names: Mapping[str, str],
    solo: frozenset[str] = frozenset(),
) -> ObservedContainer:
    """A service as the container it stands for (see the module's docstring)."""
    spec = service.get("Spec") or {}
    labels = labels_of(service)
    labels.pop(S.LABEL_NAME, None)
    if LABEL_HASH in labels and S.changed_outside(spec):
        labels[LABEL_HASH] = CHANGED
    # a container's private overlay (no networks declared) is no network of the spec; while
    # no task runs, the networks its service asks for
    targets = [t for t in S.network_targets(spec) if t not in solo]
    networks = tuple(sorted(net_names.get(t, t) for t in targets))
    task = newest(tasks)
    running = task is not None and task.running and inspected is not None
    state = "created"
    if running:
        state = "running"
    elif S.replicas(spec) > 0 and task is not None:
        state = "exited" if task.state in ENDED else "restarting"
    facts = health = None
    image_id = ""
    exit_code = 0
    addresses: tuple[tuple[str, str], ...] = ()
    if running and inspected is not None:
        real = parse.container(inspected)
        health, image_id = real.health, real.image_id
        # the networks the task container is really on (a private overlay is none of the spec's)
        names = {net_names.get(t, t) for t in solo}
        networks = tuple(sorted(n for n in real.networks if n not in names))
        addresses = tuple(a for a in real.addresses if a[0] not in names)
        facts = _route_mounts(real.facts, spec)
        # what a spec that opted out compares against (a node's daemon may give it anyway)
        opted_out = S.LABEL_NO_NNP in labels_of(service)
        if facts is not None and status.get("NoNewPrivs") == "1" and not opted_out:
            opts = tuple(sorted({*facts.security_opt, "no-new-privileges"}))
            facts = _with_security(facts, opts)
    elif task is not None and task.exit_code is not None:
        exit_code = task.exit_code  # its container's, as Swarm reported the task's end
    return ObservedContainer(
        id=str(service.get("ID", "")),
        name=aifo_name(service),
        labels=labels,
        state=state,
        health=health,
        networks=networks,
        addresses=addresses,
        image_id=image_id,
        exit_code=exit_code,
        facts=facts,
    )


def _route_mounts(facts: Any, spec: Mapping[str, Any]) -> Any:
    """The task's tmpfs volumes (services.mount) as the tmpfs mounts the spec has."""
    sizes = S.exec_tmpfs_sizes(spec)
    if facts is None or not sizes:
        return facts
    from dataclasses import replace

    from aifo.model.observed import MountFact

    mounts = tuple(
        sorted(
            MountFact(target=m.target, kind="tmpfs", tmpfs_bytes=sizes[m.target])
            if m.kind == "volume" and m.target in sizes else m
            for m in facts.mounts
        )
    )  # fmt: skip
    return replace(facts, mounts=mounts)


def _with_security(facts: Any, options: tuple[str, ...]) -> Any:
    from dataclasses import replace

    return replace(facts, security_opt=options)


def each_all(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`fn` over `items` at once (aifo.engine.wire.each); the first failure raised once every
    one was tried."""
    results = each(fn, items)
    out: list[R] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        out.append(result)
    return out


def gather(
    calls: Sequence[Callable[[], Any]],
) -> list[Any]:
    """Run independent reads at once; raise the first failure."""
    results = each(lambda call: call(), list(calls))
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results
