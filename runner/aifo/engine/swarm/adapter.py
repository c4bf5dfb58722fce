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
from aifo.engine.swarm.lifecycle import TMPFS_REF, ServiceLifecycle
from aifo.engine.swarm.nodes import Nodes
from aifo.engine.swarm.tasks import TaskRounds, tasks_of
from aifo.engine.wire import Wire, each, ref
from aifo.errors import EngineError, NotFound, UsageError, VerificationFailed
from aifo.model import LABEL_DEPENDS, LABEL_SESSION, LABEL_SWARM_ROUTE_VOLUME, Build
from aifo.model.observed import ObservedContainer, ObservedNetwork, Snapshot

Json = dict[str, Any]


def _raise_first(results: Sequence[Any]) -> None:
    for result in results:
        if isinstance(result, BaseException):
            raise result


class SwarmEngine(ServiceLifecycle, SwarmExec):
    """The Engine contract over a Swarm manager's API socket and its nodes' engines. `calls`
    counts the manager's requests (what a no-op apply must keep small)."""

    def __init__(
        self, socket_path: str, environ: Mapping[str, str], *, timeout_s: float = 120.0
    ) -> None:
        self._manager = Wire(socket_path, timeout_s=timeout_s)
        self._nodes = Nodes(self._manager, environ)
        self._session_nodes: dict[str, str] = {}
        self._placing = threading.Lock()
        self._binds: dict[str, bool] = {}
        self._proc: dict[str, dict[str, str]] = {}  # task container id -> /proc/1/status
        self._rounds = TaskRounds(self._manager)

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
        """The engine of every ready node aifo can reach. A node without a known endpoint is
        left out, not an error: placement never puts a session there (it must be reachable),
        so none of aifo's volumes or task containers can be on it, and a swarm may well have
        nodes that serve others."""
        ids: list[str] = []
        for node in self._nodes.all():
            try:
                reachable = node.ready and self._nodes.endpoint(node) is not None
            except UsageError:  # a Docker context that is not a unix socket
                reachable = False
            if reachable:
                ids.append(node.id)
        engines = each(self._nodes.engine, ids)  # each node's identity checked at once
        _raise_first(engines)
        return [e for e in engines if isinstance(e, SocketEngine)]

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
                inspected, status = O.task_facts(engine, task.container_id, self._proc)
            return O.container(service, mine, inspected, status, names, solo)

        return O.each_all(one, list(found))

    def observe(self, session: str, want: Want) -> Snapshot:
        # the session's services, and any other under a name it wants (by Swarm name: a service
        # only labelled with one of its names is refused by create_container's check)
        mine, named, networks, volumes = O.gather([
            lambda: O.services_of(self._manager, session),
            lambda: O.services_named(self._manager, list(want.containers), by_label=False),
            self._networks, self._volumes,
        ])  # fmt: skip
        found = list({str(s.get("ID", "")): s for s in [*mine, *named]}.values())
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
        mine, networks, volumes = O.gather(
            [lambda: O.services_of(self._manager, session), self._networks, self._volumes]
        )
        used = {t for s in mine for t in S.network_targets(s.get("Spec") or {})}
        owned = {v for s in mine for v in S.route_volumes(s.get("Spec") or {})}
        left = {  # a removed service's tmpfs volumes a failed removal left: only destroy finds them
            v.name: f"{TMPFS_REF}{v.name}"
            for v in volumes
            if v.labels.get(LABEL_SWARM_ROUTE_VOLUME) == session and v.name not in owned
        }
        depends = {
            O.aifo_name(s): tuple(d for d in O.labels_of(s).get(LABEL_DEPENDS, "").split(",") if d)
            for s in mine
        }
        return Labelled(
            {O.aifo_name(s): str(s.get("ID", "")) for s in mine} | left,
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

    # -- the workspace where a bind cannot reach (aifo.engine.volumecopy), on the node -------
    def binds_reach(self, session: str) -> bool:
        """Only when the session's node is this machine's own engine (the choice is pinned
        here, so the apply on this engine uses the same node)."""
        from aifo.engine.volumecopy import local_id

        found = self._binds.get(session)
        if found is None:
            node = self.session_node(session)
            # the local engine's ID is read while the node's engine is checked, not after
            theirs, ours = O.gather([lambda: self._nodes.engine(node).engine_id(), local_id])
            found = self._binds[session] = bool(theirs) and theirs == ours
        return found

    def fill_volume(self, volume: str, source: str, *, labels: Mapping[str, str]) -> None:
        engine = self._nodes.engine(self.session_node(str(labels.get(LABEL_SESSION, ""))))
        engine.fill_volume(volume, source, labels=labels)

    def read_volume(self, volume: str, dest: str, *, labels: Mapping[str, str]) -> None:
        """From the node that has the volume (a session without services may have moved
        placement's choice, never its volume)."""
        engines = self.node_engines()
        found = O.each_all(lambda e: e.wire.request("GET", f"/volumes/{ref(volume)}").ok, engines)
        holders = [e for e, has in zip(engines, found, strict=True) if has]
        if not holders:
            raise NotFound(f"No such volume: {volume} (on no node of the swarm)")
        holders[0].read_volume(volume, dest, labels=labels)

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
