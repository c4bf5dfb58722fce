"""`SocketEngine`: the hot path of the `Engine` contract over the Engine API on a unix socket.

Observe, inspect, networks, volumes and every container mutation are HTTP requests on the
engine's socket (`aifo.engine.wire`): no `docker` process per call, so the client's CPU no longer
competes with the daemon's for the same cores (docs/bench.md has the measurements). Where the
CLI is the better tool it stays, inherited from `DockerEngine`: builds and pulls (progress,
BuildKit, credentials), exec and logs (attached to our terminal), diagnostics (`info`).

Several objects in one contract call (start/stop/remove/inspect of many) are sent on up to
`width` threads at once; each request is independent, so "Docker tried every ref, then raise"
holds as with the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aifo.engine import body as B
from aifo.engine import parse
from aifo.engine.api import Labelled, Want
from aifo.engine.cli_observe import _depends
from aifo.engine.client import DockerEngine
from aifo.engine.socket_exec import SocketExec
from aifo.engine.translate import is_not_found, removal_in_progress, translate
from aifo.engine.volumecopy import ApiVolumeCopy
from aifo.engine.wire import Reply, Wire, each, ref
from aifo.engine.wire import ref as quote_ref
from aifo.errors import Conflict, EngineError, ImageMissing, NotFound
from aifo.model import LABEL_DEPENDS, LABEL_RESOURCE, LABEL_SESSION, Container
from aifo.model.observed import ObservedContainer, ObservedNetwork, Snapshot


def _raise_first(results: Sequence[Any]) -> None:
    for result in results:
        if isinstance(result, BaseException):
            raise result


def _name(item: parse.Json) -> str:
    names = [str(n).lstrip("/") for n in item.get("Names") or []]
    plain = [n for n in names if "/" not in n]
    return (plain or names or [""])[0]


class SocketEngine(ApiVolumeCopy, SocketExec, DockerEngine):
    """Docker (or Podman's compatible service) through its API socket; CLI where it is better.
    `calls` counts both CLI processes and API requests."""

    def __init__(
        self,
        socket_path: str,
        docker: str = "docker",
        *,
        timeout_s: float = 120.0,
        width: int = 8,
    ) -> None:
        super().__init__(docker, timeout_s=timeout_s)
        self.wire = Wire(socket_path, timeout_s=timeout_s)
        self.width = width

    @property
    def calls(self) -> int:
        return self.runner.calls + self.wire.requests

    def _call(self, method: str, path: str, op: str, obj: str, **kw: Any) -> Any:
        return self.wire.call(method, path, op=op, obj=obj, **kw)

    def _each(self, fn: Any, items: Sequence[Any]) -> list[Any]:
        return each(fn, items, width=self.width)

    # -- daemon -----------------------------------------------------------------------------
    def ping(self) -> None:
        self._call("GET", "/_ping", "reach", "the engine")

    def security_options(self) -> tuple[str, ...]:
        info = self._call("GET", "/info", "read", "engine info")
        options = info.get("SecurityOptions") if isinstance(info, dict) else None
        return tuple(str(o) for o in options) if isinstance(options, list) else ()

    # -- the session lock -------------------------------------------------------------------
    def create_lock(self, name: str, labels: Mapping[str, str]) -> str:
        """One `POST /containers/create` (Conflict when taken): the same container as the CLI's
        `create_lock`, without a `docker` process; the empty lock image is built (through the
        CLI) the first time an engine lacks it."""
        data = B.create_lock(labels)
        call = ("POST", "/containers/create", "lock session with", name)
        try:
            created = self._call(*call, query={"name": name}, body=data)
        except ImageMissing:
            self._build_lock_image()
            created = self._call(*call, query={"name": name}, body=data)
        return str(created.get("Id", "")) if isinstance(created, dict) else ""

    def remove_lock(self, ref: str) -> None:
        """`DELETE /containers/{ref}?force=1` (as `docker rm -f`): the lock never ran, so
        nothing to stop first; a missing one is NotFound."""
        self._call(
            "DELETE", f"/containers/{quote_ref(ref)}", "unlock session with", ref,
            query={"force": 1},
        )  # fmt: skip

    # -- observe ----------------------------------------------------------------------------
    def _lists(self, session: str) -> list[list[parse.Json]]:
        paths = ["/containers/json?all=1", "/networks", "/volumes"]
        replies = self._each(lambda p: self.wire.request("GET", p), paths)
        out: list[list[parse.Json]] = []
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply
            if not reply.ok:
                raise translate("observe session", session, reply.status, reply.message())
            data = reply.json()
            if isinstance(data, dict):  # /volumes: {"Volumes": [...], "Warnings": ...}
                data = data.get("Volumes")
            out.append([d for d in data or [] if isinstance(d, dict)])
        return out

    @staticmethod
    def _listed(lists: list[list[parse.Json]]) -> list[list[parse.Listed]]:
        def labels(d: parse.Json) -> dict[str, str]:
            return {str(k): str(v) for k, v in (d.get("Labels") or {}).items()}

        containers = [
            parse.Listed(
                str(d.get("Id", "")),
                _name(d),
                labels(d).get(LABEL_SESSION, ""),
                (labels(d).get(LABEL_RESOURCE, ""), labels(d).get(LABEL_DEPENDS, "")),
            )
            for d in lists[0]
        ]
        networks = [
            parse.Listed(
                str(d.get("Id", "")), str(d.get("Name", "")), labels(d).get(LABEL_SESSION, "")
            )
            for d in lists[1]
        ]
        volumes = [
            parse.Listed(
                str(d.get("Name", "")), str(d.get("Name", "")), labels(d).get(LABEL_SESSION, "")
            )
            for d in lists[2]
        ]
        return [containers, networks, volumes]

    def labelled(self, session: str) -> Labelled:
        rows = self._listed(self._lists(session))
        rows[0] = parse.without_locks(rows[0])
        mine = [{r.name: r.id for r in listed if r.session == session} for listed in rows]
        return Labelled(
            mine[0], mine[1], mine[2], _depends(r for r in rows[0] if r.session == session)
        )

    def _inspect_images(self, refs: Sequence[str]) -> list[parse.Json | None]:
        def one(image: str) -> parse.Json | None:
            reply = self.wire.request("GET", f"/images/{ref(image)}/json")
            if reply.status == 404:
                return None
            if not reply.ok:
                raise translate("inspect image", image, reply.status, reply.message())
            data = reply.json()
            return data if isinstance(data, dict) else None

        results = self._each(one, refs)
        _raise_first(results)
        return results

    def observe(self, session: str, want: Want) -> Snapshot:
        """Round 1: the three listings and each wanted image, at once; round 2: inspect the
        containers that are ours or carry a wanted name. Networks and volumes come whole from
        their listings."""
        images = list(dict.fromkeys(want.images))
        first = self._each(
            lambda job: job(), [lambda: self._lists(session), lambda: self._inspect_images(images)]
        )
        _raise_first(first)
        lists, found_images = first
        rows = self._listed(lists)
        rows[0] = parse.without_locks(rows[0])
        c_names = set(want.containers)
        ids = [r.id for r in rows[0] if r.session == session or r.name in c_names]

        snap = parse.snapshot(
            session,
            want,
            self.inspect_containers(ids),
            map(parse.network, lists[1]),
            map(parse.volume, lists[2]),
        )
        for image, data in zip(images, found_images, strict=True):
            if data is not None:
                snap.images[image] = parse.image(image, data)
        return snap

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
        data = B.create_network(
            name, driver=driver, internal=internal, subnet=subnet, labels=labels
        )
        created = self._call("POST", "/networks/create", "create network", name, body=data)
        return str(created.get("Id", "")) if isinstance(created, dict) else ""

    def inspect_networks(self, refs: Sequence[str]) -> list[ObservedNetwork]:
        def one(net: str) -> parse.Json | None:
            reply = self.wire.request("GET", f"/networks/{ref(net)}")
            return self._found(reply, "inspect networks", net)

        results = self._each(one, list(refs))
        _raise_first(results)
        return [parse.network(d) for d in results if d is not None]

    def remove_network(self, net: str) -> None:
        self._call("DELETE", f"/networks/{ref(net)}", "remove network", net)

    def connect_network(self, network: str, ref: str, aliases: Sequence[str] = ()) -> None:
        self._call(
            "POST", f"/networks/{quote_ref(network)}/connect", f"connect {ref} to network",
            network, body=B.connect(ref, aliases),
        )  # fmt: skip

    def disconnect_network(self, network: str, ref: str) -> None:
        self._call(
            "POST", f"/networks/{quote_ref(network)}/disconnect", f"disconnect {ref} from",
            network, body={"Container": ref},
        )  # fmt: skip

    # -- volumes ----------------------------------------------------------------------------
    def create_volume(self, name: str, *, labels: Mapping[str, str]) -> None:
        self._call(
            "POST", "/volumes/create", "create volume", name, body=B.create_volume(name, labels)
        )

    def remove_volume(self, name: str) -> None:
        """In use only by a copy's helper that outlived a failed removal: that goes first."""
        try:
            self._call("DELETE", f"/volumes/{ref(name)}", "remove volume", name)
        except Conflict:
            if not self.drop_helpers(name):
                raise
            self._call("DELETE", f"/volumes/{ref(name)}", "remove volume", name)

    # -- containers -------------------------------------------------------------------------
    def create_container(
        self,
        container: Container,
        *,
        name: str,
        labels: Mapping[str, str],
        networks: Sequence[str],
        volumes: Mapping[str, str],
    ) -> str:
        """Create on the first network (or `none`) with its aliases, connect the rest (API 1.41
        takes one network on create). If a connect fails, the new container is removed again
        before the error is raised."""
        redact = [v.value for v in container.env if v.value]
        first = networks[0] if networks else None
        data = self.create_body(container, labels=labels, network=first, volumes=volumes)
        created = self._call(
            "POST", "/containers/create", "create container", name,
            query={"name": name}, body=data, redact=redact,
        )  # fmt: skip
        cid = str(created.get("Id", "")) if isinstance(created, dict) else ""
        try:
            for net in networks[1:]:
                self._call(
                    "POST", f"/networks/{ref(net)}/connect", f"connect {name} to", net,
                    body=B.connect(cid, container.aliases),
                )  # fmt: skip
        except EngineError:
            self.wire.request("DELETE", f"/containers/{cid}", query={"force": 1, "v": 1})
            raise
        return cid

    def create_body(
        self,
        container: Container,
        *,
        labels: Mapping[str, str],
        network: str | None,
        volumes: Mapping[str, str],
    ) -> dict[str, Any]:
        """The create request's body (an engine's dialect may add to it)."""
        return B.create_container(container, labels=labels, network=network, volumes=volumes)

    def start_container(self, container: str) -> None:
        self._call("POST", f"/containers/{ref(container)}/start", "start container", container)

    def start_containers(self, refs: Sequence[str]) -> None:
        """One request per container, on up to `width` threads; raise the first failure once
        every one was tried."""
        _raise_first(self._each(self.start_container, list(refs)))

    def stop_container(self, container: str, *, timeout_s: float = 10.0) -> None:
        self._call(
            "POST", f"/containers/{ref(container)}/stop", "stop container", container,
            query={"t": max(0, round(timeout_s))}, timeout_s=timeout_s + 60,
        )  # fmt: skip

    def stop_containers(self, refs: Sequence[str], *, timeout_s: float = 10.0) -> None:
        def one(container: str) -> None:
            try:
                self.stop_container(container, timeout_s=timeout_s)
            except NotFound:
                pass

        _raise_first(self._each(one, list(refs)))

    def _remove(self, container: str) -> Reply:
        """Stop (SIGKILL, no grace: this is a force-remove), then remove. Docker 20.10 leaks a
        network endpoint now and then when running containers on one network are
        force-removed in parallel (the network then cannot be removed: "has active
        endpoints"); stopping first lets the exit handler release the endpoint alone
        (docs/engine.md, "Removing running containers", has the measurements)."""
        self.wire.request("POST", f"/containers/{ref(container)}/stop", query={"t": 0})
        return self.wire.request(
            "DELETE", f"/containers/{ref(container)}", query={"force": 1, "v": 1}
        )

    def remove_container(self, container: str) -> None:
        reply = self._remove(container)
        if not reply.ok:
            raise translate("remove container", container, reply.status, reply.message())

    def remove_containers(self, refs: Sequence[str]) -> None:
        """Missing refs are ignored; one another caller is already removing is waited for;
        any other failure raises after every ref was tried."""
        replies = self._each(self._remove, list(refs))
        _raise_first(replies)
        busy: list[str] = []
        other: list[str] = []
        for container, reply in zip(refs, replies, strict=True):
            if reply.ok or reply.status == 404 and is_not_found(reply.message()):
                continue
            message = reply.message()
            if removal_in_progress(message):
                busy.append(container)
            else:
                other.append(message)
        if other:
            raise translate("remove containers", ", ".join(refs), 1, "\n".join(other))
        self._await_removed(busy)

    def rename_container(self, container: str, new_name: str) -> None:
        self._call(
            "POST", f"/containers/{ref(container)}/rename", "rename container",
            f"{container} to {new_name}", query={"name": new_name},
        )  # fmt: skip

    def inspect_containers(self, refs: Sequence[str]) -> list[ObservedContainer]:
        """One request per ref, on up to `width` threads; refs that don't exist are omitted."""

        def one(container: str) -> parse.Json | None:
            reply = self.wire.request("GET", f"/containers/{ref(container)}/json")
            return self._found(reply, "inspect containers", container)

        results = self._each(one, list(refs))
        _raise_first(results)
        return [parse.container(self.dialect(d)) for d in results if d is not None]

    def dialect(self, data: parse.Json) -> parse.Json:
        """An inspect document in Docker's shape (an engine's dialect may translate)."""
        return data

    @staticmethod
    def _found(reply: Reply, op: str, obj: str) -> parse.Json | None:
        if reply.status == 404:
            return None
        if not reply.ok:
            raise translate(op, obj, reply.status, reply.message())
        data = reply.json()
        return data if isinstance(data, dict) else None
