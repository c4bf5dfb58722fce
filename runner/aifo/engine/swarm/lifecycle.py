"""A container's lifecycle as a Swarm service: create (0 replicas, pinned), start (1 replica,
until the new task runs, then verified by facts), stop (0 replicas, until no task runs), remove
(its task containers gone from the node first), rename (the aifo name, a label: Swarm cannot
rename a service), inspect. A mixin of `SwarmEngine` (aifo.engine.swarm.adapter), which gives
it the manager, the nodes, the session's node and the observe helpers.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aifo.engine.socket_engine import SocketEngine
from aifo.engine.swarm import lock, waits
from aifo.engine.swarm import observe as O
from aifo.engine.swarm import services as S
from aifo.engine.swarm.nodes import Nodes
from aifo.engine.swarm.tasks import TaskRounds, tasks_of
from aifo.engine.translate import translate
from aifo.engine.wire import Wire, ref
from aifo.errors import EngineError, NotFound, VerificationFailed
from aifo.model import LABEL_SESSION, Container
from aifo.model.observed import ObservedContainer, ObservedNetwork

Json = dict[str, Any]


SOLO_REF = "solo:"  # a "container" that is only the private overlay a killed create left
# a "container" that is only a tmpfs volume of a removed service, left by a failed removal:
# nothing else names it once its service is gone (SwarmEngine.labelled lists it for destroy)
TMPFS_REF = "tmpfs:"


def _orphan_solos(
    networks: Sequence[ObservedNetwork], services: Sequence[Json]
) -> list[ObservedNetwork]:
    """Private overlays no service uses (a create killed between the two requests)."""
    used = {t for s in services for t in S.network_targets(s.get("Spec") or {})}
    return [n for n in networks if O.is_solo(n) and n.id not in used and n.name not in used]


def _drop_volume(engine: SocketEngine, volume: str, *, tries: int = 3) -> str | None:
    """Remove `volume` from the node; what failed after `tries`, else None. 404: not there;
    409: in use by another container of the same name's (a replacement's: the names come from
    the spec's container), which removes it in its turn."""
    for attempt in range(tries):
        reply = engine.wire.request("DELETE", f"/volumes/{ref(volume)}")
        if reply.ok or reply.status in (404, 409):
            return None
        if attempt + 1 < tries:
            time.sleep(0.2 * (attempt + 1))
    node = getattr(engine, "node", "") or engine.wire.path
    return f"{volume} on node {node}: {reply.message()}"


def _raise_left(problems: Sequence[str]) -> None:
    if problems:
        raise EngineError(
            "remove the tmpfs volumes of removed services: " + "; ".join(problems),
            hint="`aifo destroy` again (it finds them), or `docker volume rm NAME` on that node "
            "(a tmpfs: it holds no data)",
        )


class ServiceLifecycle:
    """The container methods of the Engine contract on Swarm services."""

    _manager: Wire
    _nodes: Nodes
    _proc: dict[str, dict[str, str]]  # task container id -> its /proc/1/status fields
    _rounds: TaskRounds  # the task polls of every wait at once (waits.until_running)

    # given by SwarmEngine
    def session_node(self, session: str) -> str:
        raise NotImplementedError

    def _networks(self) -> list[ObservedNetwork]:
        raise NotImplementedError

    def node_engines(self) -> list[SocketEngine]:
        raise NotImplementedError

    def _containers(
        self, found: Sequence[Json], networks: Sequence[ObservedNetwork]
    ) -> list[ObservedContainer]:
        raise NotImplementedError

    def create_network(
        self,
        name: str,
        *,
        driver: str,
        internal: bool,
        subnet: str | None,
        labels: Mapping[str, str],
    ) -> str:
        raise NotImplementedError

    # -- containers: services ---------------------------------------------------------------
    def _list(self) -> list[Json]:
        return O.services(self._manager)

    def _resolve(self, refs: Sequence[str]) -> dict[str, Json]:
        """ref -> the service it names (`O.resolve`), from the services the refs may name. The
        transaction names services by the ids their creates returned: one request finds those
        (a service whose id is the ref is the one meant, whatever another's labels claim); the
        other refs are looked for by every key."""
        ids = [r for r in dict.fromkeys(refs) if len(r) == 25 and r.isalnum() and r.islower()]
        found: dict[str, Json] = {}
        if ids:
            listed = O.listing(self._manager, "/services", "services", {"id": ids})
            found = {str(s.get("ID", "")): s for s in listed if str(s.get("ID", "")) in ids}
        rest = [r for r in refs if r not in found]
        if rest:
            found |= O.resolve(O.candidates(self._manager, rest), rest)
        return found

    def _service(self, ref: str) -> Json:
        found = self._resolve([ref]).get(ref)
        if found is None:
            raise NotFound(f"No such container: {ref}")
        return found

    def service_id(self, ref: str) -> str | None:
        """The service a container ref (aifo name, Swarm name or id) stands for."""
        found = self._resolve([ref]).get(ref)
        return str(found.get("ID", "")) if found is not None else None

    def container_id(self, ref: str) -> str | None:
        return self.service_id(ref)

    def create_container(
        self,
        container: Container,
        *,
        name: str,
        labels: Mapping[str, str],
        networks: Sequence[str],
        volumes: Mapping[str, str],
    ) -> str:
        """A service at 0 replicas, pinned to the session's node. A container without
        networks gets its own internal overlay (Swarm has no `none`), removed with it."""
        problem = S.unsupported(container)
        if problem:
            raise VerificationFailed(f"container {container.id}: {problem}")
        node = self.session_node(str(labels.get(LABEL_SESSION, "")))
        sname = S.swarm_name(name, secrets.token_hex(3))
        session = str(labels.get(LABEL_SESSION, ""))
        if O.services_named(self._manager, [name]):
            raise translate("create container", name, 409, f"Conflict. The name {name!r} is in use")
        solo: str | None = None
        nets = list(networks)
        adopt = self._orphan_solo(name, session) if not nets else []
        if not nets and adopt:  # left by a create killed half-way: this container's
            nets = [adopt[0].id]
        elif not nets:
            solo = self.create_network(
                S.solo_name(sname), driver="bridge", internal=True, subnet=None,
                labels={**labels, S.LABEL_SOLO: name},
            )  # fmt: skip
            nets = [solo]
        spec = S.service_spec(
            container, name=sname, docker_name=name, labels=labels,
            networks=nets, volumes=volumes, node_id=node,
        )  # fmt: skip
        redact = [v.value for v in container.env if v.value]
        try:
            created = self._manager.call(
                "POST", "/services/create", op="create container", obj=name, body=spec,
                redact=redact,
            )  # fmt: skip
        except EngineError:
            if solo:
                self._manager.request("DELETE", f"/networks/{solo}")
            raise
        return str(created.get("ID", "")) if isinstance(created, dict) else ""

    def _orphan_solo(self, name: str, session: str) -> list[ObservedNetwork]:
        """The private overlay a create of `name` killed half-way left (none, nearly always:
        one filtered listing; only when one is there are the services listed, to be sure that
        none uses it)."""
        query = [f"{S.LABEL_SOLO}={name}", f"{LABEL_SESSION}={session}"]
        listed = O.listing(self._manager, "/networks", "networks", {"label": query})
        solos = [O.network(d) for d in listed if d.get("Scope") == "swarm"]
        return _orphan_solos(solos, self._list()) if solos else []

    def _update(self, service: Json, spec: Json, *, wait: bool) -> None:
        sid = str(service.get("ID", ""))
        version = (service.get("Version") or {}).get("Index", 0)
        before = waits.task_ids(self._manager, [sid]) if wait else {}
        self._manager.call(
            "POST", f"/services/{sid}/update", op="update service", obj=O.aifo_name(service),
            query={"version": version}, body=spec,
        )  # fmt: skip
        if wait:
            self._await_running({sid: service}, before)

    def _await_running(self, found: Mapping[str, Json], before: Mapping[str, set[str]]) -> None:
        """Until each service's new task runs, then its secure defaults verified by facts on
        its node (aifo.engine.swarm.verify: fail closed, the node's fact recorded)."""
        from aifo.engine.swarm.verify import read_task, verify_task

        names = {sid: O.aifo_name(s) for sid, s in found.items()}
        running = waits.until_running(self._manager, names, before, rounds=self._rounds)

        def verify(sid: str) -> None:
            task = running[sid]
            fields = read_task(self._nodes, task)
            if isinstance(fields, str):
                # unread because the task ended (a one-shot command, or its init, then a
                # missing program): a container that exited (with its code), or that could
                # not start; fail closed either way (waits.failed). Read but wrong: the node's
                # fault, said by verify_task even if the task has ended since.
                ended = waits.ended(self._manager, task)
                if ended is not None:
                    raise waits.failed(names[sid], ended)
            fields = verify_task(self._nodes, task, S.declared(found[sid]), fields)
            if task.container_id:  # observe's postconditions read them from here
                self._proc[task.container_id] = fields

        O.each_all(verify, list(running))

    def start_container(self, ref: str) -> None:
        self.start_containers([ref])

    def start_containers(self, refs: Sequence[str]) -> None:
        """Scale each to 1 (or force a new task when it is at 1 already), then wait until every
        new task runs; the first task that ends first raises (waits.failed: TaskFailed when it
        could not start, VerificationFailed when it ran and exited before it was verified)."""
        found = self._resolve(refs)
        missing = [r for r in refs if r not in found]
        if missing:
            raise NotFound(f"No such container: {missing[0]}")
        chosen = list({str(s.get("ID", "")): s for s in found.values()}.values())
        ids = [str(s.get("ID", "")) for s in chosen]
        before = waits.task_ids(self._manager, ids)

        def scale(service: Json) -> None:
            spec = service.get("Spec") or {}
            new = S.with_replicas(spec, 1) if S.replicas(spec) == 0 else S.forced(spec)
            sid = str(service.get("ID", ""))
            self._manager.call(
                "POST", f"/services/{sid}/update", op="start container",
                obj=O.aifo_name(service),
                query={"version": (service.get("Version") or {}).get("Index", 0)}, body=new,
            )  # fmt: skip

        O.each_all(scale, chosen)
        self._await_running({str(s.get("ID", "")): s for s in chosen}, before)

    def stop_container(self, ref: str, *, timeout_s: float = 10.0) -> None:
        self._stop([self._service(ref)])

    def stop_containers(self, refs: Sequence[str], *, timeout_s: float = 10.0) -> None:
        self._stop(list(self._resolve(refs).values()))

    def _stop(self, found: Sequence[Json]) -> None:
        def scale(service: Json) -> None:
            spec = service.get("Spec") or {}
            if S.replicas(spec) != 0:
                self._update(service, S.with_replicas(spec, 0), wait=False)

        O.each_all(scale, list(found))
        ids = [str(s.get("ID", "")) for s in found]
        waits.until_gone(self._engines_of(found), ids, running_only=True)

    def _engines_of(self, found: Sequence[Json]) -> list[SocketEngine]:
        nodes = {S.node_of(s.get("Spec") or {}) for s in found}
        return [self._nodes.engine(n) for n in sorted(n for n in nodes if n)]

    def remove_container(self, ref: str) -> None:
        self._remove([self._service(ref)])

    def remove_containers(self, refs: Sequence[str]) -> None:
        """Missing refs are ignored (destroy and rollback are idempotent)."""
        for orphan in [r[len(SOLO_REF) :] for r in refs if r.startswith(SOLO_REF)]:
            self._remove_solo(orphan)
        left = [r[len(TMPFS_REF) :] for r in refs if r.startswith(TMPFS_REF)]
        if left:
            _raise_left([p for e in self.node_engines() for v in left if (p := _drop_volume(e, v))])
        services = [r for r in refs if not r.startswith((SOLO_REF, TMPFS_REF))]
        self._remove(list(self._resolve(services).values()))

    def _remove_solo(self, network: str) -> None:
        reply = self._manager.request("DELETE", f"/networks/{ref(network)}")
        if not reply.ok and reply.status != 404:
            raise translate("remove network", network, reply.status, reply.message())
        waits.until_unlisted(self._manager, network)

    def _remove(self, found: Sequence[Json]) -> None:
        """Kill the task containers on their node (a force-remove keeps no grace), delete the
        services, wait until their containers are gone, then remove their private overlays."""
        unique = list({str(s.get("ID", "")): s for s in found}.values())
        if not unique:
            return
        ids = [str(s.get("ID", "")) for s in unique]
        engines = self._engines_of(unique)
        # a service that restarts its tasks (restart: on-failure, always) whose command exits
        # always has a next task on its node (held `ready` for Swarm's restart delay): at 0
        # replicas Swarm makes no more, so the wait below ends (else it waited 60 s, failed,
        # and left the service restarting for ever: a one-shot's rollback)
        O.each_all(self._hold, [s for s in unique if S.restarts(s.get("Spec") or {})])
        waits.until_settled(self._manager, ids)  # no node still making a task's container
        tasks = tasks_of(self._manager, ids)
        for sid in ids:
            for task in tasks.get(sid, []):
                if task.container_id and task.state == "running":
                    self._nodes.engine(task.node_id).wire.request(
                        "POST", f"/containers/{task.container_id}/kill"
                    )
        replies = O.each_all(lambda sid: self._manager.request("DELETE", f"/services/{sid}"), ids)
        for sid, reply in zip(ids, replies, strict=True):
            if not reply.ok and reply.status != 404:
                raise translate("remove container", sid, reply.status, reply.message())
        # Swarm's agent removes them a few seconds later: aifo does it now (they are dead)
        for engine in engines:
            for cid in waits.task_containers(engine, ids):
                engine.wire.request("DELETE", f"/containers/{cid}", query={"force": 1, "v": 1})
        waits.until_gone(engines, ids)
        # their tmpfs volumes (services.mount): empty now, and found by nothing once their
        # service is gone (not the session's label), so a failed removal is tried again here
        # and then said, never left silently
        left = [
            problem
            for service in unique
            for volume in S.route_volumes(service.get("Spec") or {})
            for engine in engines
            if (problem := _drop_volume(engine, volume))
        ]
        _raise_left(left)
        solo = {n.id: n for n in self._networks() if O.is_solo(n)}
        for service in unique:
            for target in S.network_targets(service.get("Spec") or {}):
                if target in solo:
                    self._remove_solo(target)

    def _hold(self, service: Json) -> None:
        """Scaled to 0, no wait (a removal's first step for a service that restarts tasks)."""
        try:
            self._update(service, S.with_replicas(service.get("Spec") or {}, 0), wait=False)
        except NotFound:  # removed meanwhile: what the removal wanted
            pass

    def rename_container(self, ref: str, new_name: str) -> None:
        """The aifo name only (a label: Swarm cannot rename a service, and this update
        replaces no task); Conflict when another service has that name."""
        service = self._service(ref)
        near = O.candidates(self._manager, [new_name])
        others = [s for s in near if s.get("ID") != service.get("ID")]
        if any(O.matches(s, new_name) for s in others):
            raise translate("rename container", f"{ref} to {new_name}", 409, "Conflict")
        self._update(service, S.renamed(service.get("Spec") or {}, new_name), wait=False)

    def inspect_containers(self, refs: Sequence[str]) -> list[ObservedContainer]:
        """Services (by aifo name, Swarm name or id) and session locks among `refs`; refs that
        name neither are omitted, but for the private overlay a create killed half-way left
        (no service uses it): reported as that container, never started, so the journal's
        undo of the create removes it (`remove_containers`)."""
        if not refs:
            return []
        resolved, networks = O.gather([lambda: self._resolve(refs), self._networks])
        found = list({str(s.get("ID", "")): s for s in resolved.values()}.values())
        solos = [
            n for n in networks
            if O.is_solo(n) and n.labels[S.LABEL_SOLO] in refs
            and n.labels[S.LABEL_SOLO] not in resolved
        ]  # fmt: skip
        orphans = [
            ObservedContainer(id=f"{SOLO_REF}{n.id}", name=n.labels[S.LABEL_SOLO], labels=n.labels)
            for n in (_orphan_solos(solos, self._list()) if solos else [])
        ]
        return self._containers(found, networks) + orphans + lock.inspect(self._manager, refs)
