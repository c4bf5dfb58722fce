"""`SwarmEngine`: the `Engine` contract on a Docker Swarm (issue 25; docs/engine.md, "Swarm").

The manager (DOCKER_HOST) holds services, tasks, overlays and the session lock (a config); a
session's node, chosen once by aifo (aifo.engine.swarm.placement) and read back from its
services afterwards, holds its volumes, images and task containers, reached through that
node's own engine (aifo.engine.swarm.nodes). A container is a one-replica service
(aifo.engine.swarm.services); what Swarm does later, aifo waits for (aifo.engine.swarm.waits).

Services cannot be renamed, so the transaction's replace path (create `X.next`, verify, remove
`X`, rename) renames the aifo name alone: the `io.aifo.name` label of the new service, one
service update that touches no task. The new service keeps its Swarm name (`X-next-3f2a1c`)
and DNS aliases (the spec's names) for life.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from aifo.engine import body as B
from aifo.engine import parse
from aifo.engine.api import EngineFacts, Labelled, OnStep, SessionSummary, Want
from aifo.engine.socket_engine import SocketEngine
from aifo.engine.swarm import listing, lock, waits
from aifo.engine.swarm import observe as O
from aifo.engine.swarm import services as S
from aifo.engine.swarm.execs import SwarmExec
from aifo.engine.swarm.nodes import Nodes
from aifo.engine.swarm.tasks import tasks_of
from aifo.engine.translate import translate
from aifo.engine.wire import Wire, each, ref
from aifo.errors import EngineError, NotFound, VerificationFailed
from aifo.model import LABEL_DEPENDS, LABEL_SESSION, Build, Container
from aifo.model.observed import ObservedContainer, ObservedNetwork, Snapshot

Json = dict[str, Any]


def _raise_first(results: Sequence[Any]) -> None:
    for result in results:
        if isinstance(result, BaseException):
            raise result


SOLO_REF = "solo:"  # a "container" that is only the private overlay a killed create left


def _orphan_solos(
    networks: Sequence[ObservedNetwork], services: Sequence[Json]
) -> list[ObservedNetwork]:
    """Private overlays no service uses (a create killed between the two requests)."""
    used = {t for s in services for t in S.network_targets(s.get("Spec") or {})}
    return [n for n in networks if O.is_solo(n) and n.id not in used and n.name not in used]


class SwarmEngine(SwarmExec):
    """The Engine contract over a Swarm manager's API socket and its nodes' engines. `calls`
    counts the manager's requests (what a no-op apply must keep small)."""

    def __init__(
        self, socket_path: str, environ: Mapping[str, str], *, timeout_s: float = 120.0
    ) -> None:
        self._manager = Wire(socket_path, timeout_s=timeout_s)
        self._nodes = Nodes(self._manager, environ)
        self._session_nodes: dict[str, str] = {}
        self._placing = threading.Lock()

    @property
    def calls(self) -> int:
        return self._manager.requests

    # -- the cluster ------------------------------------------------------------------------
    def ping(self) -> None:
        info = self._manager.call("GET", "/info", op="reach", obj="the swarm manager")
        swarm = info.get("Swarm") if isinstance(info, dict) else None
        if not isinstance(swarm, dict) or not swarm.get("ControlAvailable"):
            raise EngineError(
                f"the engine at unix://{self._manager.path} is not a Swarm manager",
                hint="point DOCKER_HOST at a manager (`docker node ls` works there)",
            )

    def security_options(self) -> tuple[str, ...]:
        info = self._manager.call("GET", "/info", op="read", obj="engine info")
        options = info.get("SecurityOptions") if isinstance(info, dict) else None
        return tuple(str(o) for o in options) if isinstance(options, list) else ()

    def node_engines(self) -> list[SocketEngine]:
        """Every ready node's engine (a node without a known endpoint is an error: aifo could
        not see what it runs)."""
        return [self._nodes.engine(n.id) for n in self._nodes.all() if n.ready]

    def session_node(self, session: str) -> str:
        """The node id of `session`: where its services are, else aifo's choice (placement),
        remembered for this engine's life. One choice at a time, the sessions this engine
        placed counted as load, so sessions applied at once (forks) spread."""
        with self._placing:
            found = self._session_nodes.get(session)
            if found is None:
                from aifo.engine.swarm.placement import choose_node
                from aifo.state.nodefacts import read_facts

                pending = Counter(self._session_nodes.values())
                found = choose_node(self._nodes, read_facts(), session, pending=pending).id
                self._session_nodes[session] = found
            return found

    def _node_engine_of(self, service: Json) -> SocketEngine | None:
        node = S.node_of(service.get("Spec") or {})
        return self._nodes.engine(node) if node else None

    def sessions(self) -> list[SessionSummary]:
        """`aifo ls`: every session on the swarm, by label."""
        networks, volumes = O.gather([self._networks, self._volumes])
        return listing.sessions(self._manager, networks, volumes)

    def facts(self) -> EngineFacts:
        """`aifo doctor`: the manager's facts."""
        return listing.facts(self._manager)

    # -- the session lock -------------------------------------------------------------------
    def create_lock(self, name: str, labels: Mapping[str, str]) -> str:
        return lock.create(self._manager, name, labels)

    def remove_lock(self, ref: str) -> None:
        lock.remove(self._manager, ref)

    # -- observe ----------------------------------------------------------------------------
    def _networks(self) -> list[ObservedNetwork]:
        """The manager's networks: Swarm's overlays (a node's local networks are never aifo's
        here: a stale copy of a removed overlay is left out)."""
        listed = O.listing(self._manager, "/networks", "networks")
        return [O.network(d) for d in listed if d.get("Scope") == "swarm"]

    def _containers(
        self, found: Sequence[Json], networks: Sequence[ObservedNetwork]
    ) -> list[ObservedContainer]:
        """Services as containers: their tasks (one `GET /tasks`), each running task's
        container inspected on its node (at once)."""
        if not found:
            return []
        ids = [str(s.get("ID", "")) for s in found]
        tasks = tasks_of(self._manager, ids)
        names = {n.id: n.name for n in networks}
        solo = frozenset(n.id for n in networks if O.is_solo(n))

        def one(service: Json) -> ObservedContainer:
            mine = tasks.get(str(service.get("ID", "")), [])
            task = O.newest(mine)
            inspected: Json | None = None
            status: dict[str, str] = {}
            if task is not None and task.container_id and task.running:
                engine = self._nodes.engine(task.node_id)
                inspected, status = O.task_facts(engine, task.container_id)
            return O.container(service, mine, inspected, status, names, solo)

        return O.each_all(one, list(found))

    def observe(self, session: str, want: Want) -> Snapshot:
        all_services, networks, volumes = O.gather(
            [lambda: O.services(self._manager), self._networks, self._volumes]
        )
        wanted = set(want.containers)
        found = [s for s in all_services if O.session_of(s) == session or O.aifo_name(s) in wanted]
        containers = self._containers(found, networks)
        visible = [n for n in networks if not O.is_solo(n)]
        snap = parse.snapshot(session, want, containers, visible, volumes)
        images = list(dict.fromkeys(want.images))
        if images:
            for image, data in zip(images, self._images(session, images), strict=True):
                if data is not None:
                    snap.images[image] = parse.image(image, data)
        return snap

    def _volumes(self) -> list[Any]:
        return O.node_volumes(self.node_engines())

    def _images(self, session: str, images: Sequence[str]) -> list[parse.Json | None]:
        """The images as the session's node has them (Swarm pulls nothing here: a task on a
        node without its image is rejected)."""
        engine = self._nodes.engine(self.session_node(session))
        return engine._inspect_images(images)

    def labelled(self, session: str) -> Labelled:
        all_services, networks, volumes = O.gather(
            [lambda: O.services(self._manager), self._networks, self._volumes]
        )
        mine = [s for s in all_services if O.session_of(s) == session]
        used = {t for s in mine for t in S.network_targets(s.get("Spec") or {})}
        depends = {
            O.aifo_name(s): tuple(d for d in O.labels_of(s).get(LABEL_DEPENDS, "").split(",") if d)
            for s in mine
        }
        return Labelled(
            {O.aifo_name(s): str(s.get("ID", "")) for s in mine},
            {
                n.name: n.id
                for n in networks
                if n.labels.get(LABEL_SESSION) == session
                and not (O.is_solo(n) and (n.id in used or n.name in used))
            },
            {v.name: v.name for v in volumes if v.labels.get(LABEL_SESSION) == session},
            depends,
        )

    # -- networks ---------------------------------------------------------------------------
    def create_network(
        self,
        name: str,
        *,
        driver: str,
        internal: bool,
        subnet: str | None,
        labels: Mapping[str, str],
    ) -> str:
        """An attachable overlay (the spec's driver kept in a label, for drift)."""
        data = B.create_network(
            name, driver="overlay", internal=internal, subnet=subnet,
            labels={**labels, O.LABEL_DRIVER: driver},
        )  # fmt: skip
        data["Attachable"] = True
        data["Scope"] = "swarm"
        created = self._manager.call("POST", "/networks/create", op="create network", obj=name,
                                     body=data)  # fmt: skip
        nid = str(created.get("Id", "")) if isinstance(created, dict) else ""
        waits.until_allocated(self._manager, nid or name)
        return nid

    def inspect_networks(self, refs: Sequence[str]) -> list[ObservedNetwork]:
        """From one listing of the manager's networks, matched by id (or prefix) or name: an
        inspect by name may answer a node's stale local copy of a removed overlay (no driver)
        while Swarm already has the new one."""
        found = self._networks()
        out: list[ObservedNetwork] = []
        for net in dict.fromkeys(refs):
            hit = next((n for n in found if n.id == net or n.name == net), None)
            if hit is None and len(net) >= 12:
                hit = next((n for n in found if n.id.startswith(net)), None)
            if hit is not None:
                out.append(hit)
        return out

    def remove_network(self, net: str) -> None:
        """Once no container on any node is attached to it any more: Swarm accepts the removal
        while a removed service's containers still run (~6 s)."""
        waits.until_network_free(self.node_engines(), net)
        self._manager.call("DELETE", f"/networks/{ref(net)}", op="remove network", obj=net)
        waits.until_unlisted(self._manager, net)

    def connect_network(self, network: str, ref: str, aliases: Sequence[str] = ()) -> None:
        self._attach(ref, network, list(aliases), attach=True)

    def disconnect_network(self, network: str, ref: str) -> None:
        self._attach(ref, network, [], attach=False)

    def _attach(self, ref: str, network: str, aliases: list[str], *, attach: bool) -> None:
        """A service update of its networks: Swarm replaces the task, so a running one is
        waited for again."""
        service = self._service(ref)
        spec = service.get("Spec") or {}
        nets = {n.id: n for n in self._networks()}
        target = next((n for n in nets.values() if network in (n.id, n.name)), None)
        if target is None:
            raise NotFound(f"network {network} not found")
        solo = {i for i, n in nets.items() if O.is_solo(n)}
        current = [
            n for n in (spec.get("TaskTemplate") or {}).get("Networks") or []
            if isinstance(n, dict) and n.get("Target") not in solo
        ]  # fmt: skip
        kept = [n for n in current if n.get("Target") not in (target.id, target.name)]
        if attach:
            kept.append({"Target": target.id, **({"Aliases": aliases} if aliases else {})})
        elif not kept:
            raise EngineError(
                f"cannot detach {ref} from its last network on Swarm",
                hint="replace the container instead (aifo apply does when its networks change)",
            )
        self._update(service, S.with_networks(spec, kept), wait=S.replicas(spec) > 0)

    # -- host guard: internal overlays have no interface on any host ------------------------
    def host_guard_problem(self) -> str | None:
        return None

    def guard_network(self, session: str, network: ObservedNetwork) -> bool:
        """Nothing to add: an internal overlay has no interface in any node's own namespace
        (no docker_gwbridge, no default route), so its containers cannot reach the node's
        addresses; refuse (fail closed) anything else."""
        if not (network.internal and network.bridge.startswith(O.OVERLAY_MARK)):
            raise VerificationFailed(
                f"network {network.name} is not an internal overlay: aifo cannot guard it on Swarm"
            )
        return False

    def unguard_network(self, session: str, network: str | None = None) -> int:
        return 0

    def network_guards(self, session: str) -> dict[str, tuple[str, ...]]:
        return {
            n.name: (n.bridge,)
            for n in self._networks()
            if n.labels.get(LABEL_SESSION) == session
            and n.internal
            and n.bridge.startswith(O.OVERLAY_MARK)
            and not O.is_solo(n)
        }

    # -- volumes: node-local, on the session's node -----------------------------------------
    def create_volume(self, name: str, *, labels: Mapping[str, str]) -> None:
        engine = self._nodes.engine(self.session_node(str(labels.get(LABEL_SESSION, ""))))
        engine.create_volume(name, labels=labels)

    def remove_volume(self, name: str) -> None:
        """On every node that has it; NotFound when none has."""
        results = each(lambda e: e.remove_volume(name), self.node_engines())
        if all(isinstance(r, NotFound) for r in results):
            raise NotFound(f"remove volume {name}: no such volume on any node")
        _raise_first([r for r in results if not isinstance(r, NotFound)])

    # -- images: on every node (a task's node needs its image: Swarm pulls none here) --------
    def pull_image(self, ref: str) -> None:
        _raise_first(each(lambda e: e.pull_image(ref), self.node_engines()))

    def build_image(
        self,
        ref: str,
        build: Build,
        *,
        labels: Mapping[str, str],
        on_step: OnStep | None = None,
    ) -> None:
        for engine in self.node_engines():
            engine.build_image(ref, build, labels=labels, on_step=on_step)

    def remove_image(self, ref: str) -> None:
        results = each(lambda e: e.remove_image(ref), self.node_engines())
        _raise_first([r for r in results if not isinstance(r, NotFound)])

    # -- containers: services ---------------------------------------------------------------
    def _list(self) -> list[Json]:
        return O.services(self._manager)

    def _service(self, ref: str) -> Json:
        found = O.resolve(self._list(), [ref]).get(ref)
        if found is None:
            raise NotFound(f"No such container: {ref}")
        return found

    def service_id(self, ref: str) -> str | None:
        """The service a container ref (aifo name, Swarm name or id) stands for."""
        found = O.resolve(self._list(), [ref]).get(ref)
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
        if any(O.aifo_name(s) == name for s in self._list()):
            raise translate("create container", name, 409, f"Conflict. The name {name!r} is in use")
        solo: str | None = None
        nets = list(networks)
        adopt = [n for n in _orphan_solos(self._networks(), self._list())
                 if n.labels.get(S.LABEL_SOLO) == name
                 and n.labels.get(LABEL_SESSION) == labels.get(LABEL_SESSION)]  # fmt: skip
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
        from aifo.engine.swarm.verify import verify_task

        names = {sid: O.aifo_name(s) for sid, s in found.items()}
        running = waits.until_running(self._manager, names, before)
        O.each_all(
            lambda sid: verify_task(self._nodes, running[sid], S.declared(found[sid])),
            list(running),
        )

    def start_container(self, ref: str) -> None:
        self.start_containers([ref])

    def start_containers(self, refs: Sequence[str]) -> None:
        """Scale each to 1 (or force a new task when it is at 1 already), then wait until every
        new task runs; the first rejected or failed task raises (TaskFailed)."""
        found = O.resolve(self._list(), list(refs))
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

        _raise_first(each(scale, chosen))
        self._await_running({str(s.get("ID", "")): s for s in chosen}, before)

    def stop_container(self, ref: str, *, timeout_s: float = 10.0) -> None:
        self._stop([self._service(ref)])

    def stop_containers(self, refs: Sequence[str], *, timeout_s: float = 10.0) -> None:
        self._stop(list(O.resolve(self._list(), list(refs)).values()))

    def _stop(self, found: Sequence[Json]) -> None:
        def scale(service: Json) -> None:
            spec = service.get("Spec") or {}
            if S.replicas(spec) != 0:
                self._update(service, S.with_replicas(spec, 0), wait=False)

        _raise_first(each(scale, list(found)))
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
        self._remove(list(O.resolve(self._list(), list(refs)).values()))

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
        solo = {n.id: n for n in self._networks() if O.is_solo(n)}
        for service in unique:
            for target in S.network_targets(service.get("Spec") or {}):
                if target in solo:
                    self._remove_solo(target)

    def rename_container(self, ref: str, new_name: str) -> None:
        """The aifo name only (a label: Swarm cannot rename a service, and this update
        replaces no task); Conflict when another service has that name."""
        service = self._service(ref)
        others = [s for s in self._list() if s.get("ID") != service.get("ID")]
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
        all_services, networks = O.gather([self._list, self._networks])
        resolved = O.resolve(all_services, list(refs))
        found = list({str(s.get("ID", "")): s for s in resolved.values()}.values())
        orphans = [
            ObservedContainer(id=f"{SOLO_REF}{n.id}", name=n.labels[S.LABEL_SOLO], labels=n.labels)
            for n in _orphan_solos(networks, all_services)
            if n.labels[S.LABEL_SOLO] in refs and n.labels[S.LABEL_SOLO] not in resolved
        ]
        return self._containers(found, networks) + orphans + lock.inspect(self._manager, refs)
