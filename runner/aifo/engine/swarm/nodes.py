"""The Swarm's nodes, and each node's own engine.

Swarm has no service exec, logs or file copy: those go to the engine of the node that runs the
task. Its endpoint comes from `AIFO_SWARM_NODES=NODE=ENDPOINT,...` (NODE: the node's hostname or
id), else from a Docker context named after the node (its endpoint read from the docker CLI's
context store: no process, nothing run). Only unix sockets are taken: a node's engine is root on
that node, so it is reached the way the host reaches its own (an ssh-forwarded socket for a
remote node), never over a TCP port.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aifo.engine.run import Result, Runner
from aifo.engine.socket_engine import SocketEngine
from aifo.engine.translate import translate
from aifo.engine.wire import Wire
from aifo.errors import EngineError, UsageError

VARIABLE = "AIFO_SWARM_NODES"
_NODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,252}\Z")
_CONTEXT_META_MAX = 64 * 1024  # a context's meta.json is a few hundred bytes
_FORWARD_HINT = (
    "forward the node's socket over ssh "
    "(`ssh -nNT -L /run/aifo/NODE.sock:/var/run/docker.sock NODE`) and give unix:///run/aifo/NODE.sock"
)


@dataclass(frozen=True)
class Node:
    """One node of the swarm, as the manager lists it."""

    id: str
    hostname: str
    manager: bool
    ready: bool
    active: bool


def node_of(data: Mapping[str, Any]) -> Node:
    """A `GET /nodes` item as a Node (missing fields read as not ready / not active)."""

    def part(key: str) -> Mapping[str, Any]:
        value = data.get(key)
        return value if isinstance(value, Mapping) else {}

    return Node(
        id=str(data.get("ID", "")),
        hostname=str(part("Description").get("Hostname", "")),
        manager=part("Spec").get("Role") == "manager",
        ready=part("Status").get("State") == "ready",
        active=part("Spec").get("Availability") == "active",
    )


def _socket(endpoint: str, *, where: str) -> str:
    """The socket path of a `unix://` endpoint; anything else is a usage error."""
    if not endpoint.startswith("unix://"):
        raise UsageError(
            f"{where}: endpoint {endpoint!r} is not a unix socket (unix:///path)",
            hint=_FORWARD_HINT,
        )
    path = endpoint[len("unix://") :]
    if not path.startswith("/") or "\x00" in path:
        raise UsageError(
            f"{where}: endpoint {endpoint!r} needs an absolute socket path (unix:///path)",
            hint="for example unix:///run/aifo/n2.sock",
        )
    return path


def parse_endpoints(value: str) -> dict[str, str]:
    """`NODE=unix:///path,...` -> {NODE: socket path}. Strict: an empty or malformed entry, a
    bad node name, a non-unix endpoint or a node named twice is a usage error (exit 2)."""
    out: dict[str, str] = {}
    if not value.strip():
        return out
    example = f"{VARIABLE}=n1=unix:///run/n1.sock,n2=unix:///run/n2.sock"
    for number, raw in enumerate(value.split(","), start=1):
        entry = raw.strip()
        where = f"{VARIABLE}, entry {number}"
        node, sep, endpoint = entry.partition("=")
        if not entry or not sep:
            raise UsageError(
                f"{where}: {entry!r} is not NODE=ENDPOINT",
                hint=f"a comma-separated list, e.g. {example}",
            )
        if not _NODE.match(node):
            raise UsageError(
                f"{where}: {node!r} is not a node hostname or id",
                hint="use the name `docker node ls` shows (letters, digits, `.`, `_`, `-`)",
            )
        if node in out:
            raise UsageError(f"{where}: node {node!r} is named twice", hint=f"e.g. {example}")
        out[node] = _socket(endpoint.strip(), where=f"{where} ({node})")
    return out


def context_endpoint(environ: Mapping[str, str], name: str) -> str | None:
    """The docker endpoint of the Docker context `name`, read from the CLI's context store
    (`$DOCKER_CONFIG/contexts/meta/<sha256 of the name>/meta.json`); None when there is none.
    The file is only parsed as JSON, bounded, never executed."""
    config = environ.get("DOCKER_CONFIG") or os.path.join(environ.get("HOME", "/"), ".docker")
    digest = hashlib.sha256(name.encode()).hexdigest()
    path = os.path.join(config, "contexts", "meta", digest, "meta.json")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        raw = fh.read(_CONTEXT_META_MAX + 1)
    if len(raw) > _CONTEXT_META_MAX:
        return None
    try:
        meta = json.loads(raw)
        host = meta["Endpoints"]["docker"]["Host"]
    except (ValueError, KeyError, TypeError):
        return None
    return host if isinstance(host, str) and meta.get("Name") == name else None


class NodeRunner(Runner):
    """The docker CLI aimed at one node (the CLI parts of its adapter: attached exec, logs),
    whatever DOCKER_HOST or DOCKER_CONTEXT this process has (they name the manager)."""

    def __init__(self, socket_path: str, docker: str = "docker", *, timeout_s: float) -> None:
        super().__init__(docker, timeout_s=timeout_s)
        self.host = f"unix://{socket_path}"

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = super().environ(extra)
        for key in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
            env.pop(key, None)  # the manager's, not this node's
        env["DOCKER_HOST"] = self.host
        return env

    def call(
        self,
        args: Sequence[str],
        *,
        op: str,
        obj: str,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
    ) -> Result:
        # the base runner passes no environment when none is asked for: always aim at the node
        extra = {"DOCKER_HOST": self.host, **(env or {})}
        return super().call(args, op=op, obj=obj, timeout_s=timeout_s, env=extra, input=input)


class NodeEngine(SocketEngine):
    """A node's own engine: the Engine API on its socket, and its CLI parts aimed there too."""

    def __init__(self, node: str, socket_path: str, *, timeout_s: float = 120.0) -> None:
        super().__init__(socket_path, timeout_s=timeout_s)
        self.node = node
        self.runner = NodeRunner(socket_path, timeout_s=timeout_s)
        self.known_id = ""  # the daemon's ID, read by the identity check's `GET /info`

    def engine_id(self) -> str:
        """As the identity check read it (a `GET /info` costs the daemon ~5 ms of CPU)."""
        return self.known_id or super().engine_id()


class Nodes:
    """The manager's node list and each node's engine (built once per node, then cached)."""

    def __init__(self, manager: Wire, environ: Mapping[str, str]) -> None:
        self.manager = manager
        self._environ = dict(environ)
        self._endpoints = parse_endpoints(self._environ.get(VARIABLE, ""))
        self._engines: dict[str, NodeEngine] = {}
        self._listed: dict[str, Node] = {}
        self._lock = threading.Lock()
        self._making: dict[str, threading.Lock] = {}

    def all(self) -> list[Node]:
        """Every node (one `GET /nodes` on the manager), ordered by id."""
        reply = self.manager.request("GET", "/nodes")
        if reply.status == 503:  # a worker, or an engine in no swarm at all
            raise EngineError(
                f"list the swarm's nodes: unix://{self.manager.path}: {reply.message()}",
                hint="point DOCKER_HOST (or the Docker context) at a swarm manager's socket: "
                "`docker node ls` works there",
            )
        if not reply.ok:
            raise translate("list", "the swarm's nodes", reply.status, reply.message())
        data = reply.json()
        if not isinstance(data, list):
            raise EngineError("list the swarm's nodes: the manager's answer is not a list")
        nodes = sorted((node_of(d) for d in data if isinstance(d, Mapping)), key=lambda n: n.id)
        with self._lock:
            self._listed = {n.id: n for n in nodes}
        return nodes

    def node(self, node_id: str) -> Node:
        """The node with this id (listed once, then remembered)."""
        with self._lock:
            found = self._listed.get(node_id)
        if found is None:
            found = next((n for n in self.all() if n.id == node_id), None)
        if found is None:
            raise EngineError(
                f"node {node_id} is not part of the swarm",
                hint="`docker node ls` on the manager lists its nodes",
            )
        return found

    def endpoint(self, node: Node) -> str | None:
        """The node's socket path: AIFO_SWARM_NODES by hostname, then by id, then a Docker
        context named after its hostname (or id)."""
        for key in (node.hostname, node.id):
            if key and key in self._endpoints:
                return self._endpoints[key]
        for key in (node.hostname, node.id):
            host = context_endpoint(self._environ, key) if key else None
            if host is not None:
                return _socket(host, where=f"Docker context {key!r}")
        return None

    @staticmethod
    def _check_identity(engine: NodeEngine, node: Node) -> None:
        """The endpoint must be that node's engine (one `GET /info`, once per node): a mapping
        that names the wrong socket would put the session's volumes on another node, where
        Swarm would quietly make empty ones for its tasks."""
        info = engine.wire.call("GET", "/info", op="reach", obj=f"swarm node {engine.node}")
        swarm = info.get("Swarm") if isinstance(info, dict) else None
        found = str(swarm.get("NodeID", "")) if isinstance(swarm, dict) else ""
        if found == node.id and isinstance(info, dict):
            engine.known_id = str(info.get("ID") or "")
        if found != node.id:
            other = str(info.get("Name", "")) if isinstance(info, dict) else ""
            raise EngineError(
                f"the endpoint given for swarm node {engine.node} ({node.id}), "
                f"unix://{engine.wire.path}, is the engine of "
                + (
                    f"node {other} ({found})" if found else f"{other or 'a host'} outside the swarm"
                ),
                hint=f"fix that node's entry in {VARIABLE} (or its Docker context)",
            )

    def engine(self, node_id: str) -> SocketEngine:
        """The engine of node `node_id`, checked to be that node's; EngineError (with the way to
        name it) when aifo knows no endpoint for it, or the endpoint is another engine's."""
        with self._lock:
            cached = self._engines.get(node_id)
            making = self._making.setdefault(node_id, threading.Lock())
        if cached is not None:
            return cached
        with making:  # threads asking at once for one node: one identity check
            with self._lock:
                cached = self._engines.get(node_id)
            return cached if cached is not None else self._make(node_id)

    def _make(self, node_id: str) -> SocketEngine:
        node = self.node(node_id)
        path = self.endpoint(node)
        name = node.hostname or node.id
        if path is None:
            raise EngineError(
                f"no engine endpoint is known for swarm node {name} ({node.id}): exec, logs "
                "and verification need that node's own engine (Swarm has no service exec)",
                hint=f"add {name}=unix:///path/to/its/docker.sock to {VARIABLE}, or create a "
                f"Docker context named {name!r}; {_FORWARD_HINT}",
            )
        engine = NodeEngine(name, path, timeout_s=self.manager.timeout_s)
        self._check_identity(engine, node)
        with self._lock:
            return self._engines.setdefault(node_id, engine)
