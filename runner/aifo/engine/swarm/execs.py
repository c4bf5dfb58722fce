"""Exec, hooks, signals and logs on Swarm: on the engine of the node that runs the task.

Swarm has no service exec. Each call finds the service's running task on the manager (one
`GET /tasks`: its node and its container) and makes the same call on that node's own engine
(aifo.engine.swarm.nodes). Nothing gives a container engine access: the node's socket is used
from here, never mounted anywhere. A ref is what `service_id` resolves (SwarmEngine's: an aifo
name, a Swarm name, a service id), or a task container id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

from aifo.engine.process import ExecProcess
from aifo.engine.socket_engine import SocketEngine
from aifo.engine.swarm.nodes import Nodes
from aifo.engine.swarm.tasks import running_task, task_of, tasks_of
from aifo.engine.wire import Wire, each
from aifo.engine.wire import ref as quote
from aifo.errors import EngineError, NotFound


class SwarmExec:
    """The exec and log calls of the Engine contract, for SwarmEngine (engine/swarm/adapter)."""

    _manager: Wire
    _nodes: Nodes

    # -- finding the task ---------------------------------------------------------------------
    def _by_container(self, ref: str) -> tuple[str, str] | None:
        """(node id, container id) of the running task whose container is `ref` (an id or
        its prefix of at least 12)."""
        if len(ref) < 12 or not all(c in "0123456789abcdef" for c in ref):
            return None
        data = self._manager.call(
            "GET", "/tasks", op="list", obj="the running tasks",
            query={"filters": json.dumps({"desired-state": ["running"]})},
        )  # fmt: skip
        for item in data if isinstance(data, list) else []:
            task = task_of(item)
            if task.running and task.container_id and task.container_id.startswith(ref):
                return task.node_id, task.container_id
        return None

    def service_id(self, ref: str) -> str | None:
        """The service `ref` (a Swarm name or id) stands for; SwarmEngine overrides this to
        read aifo's names too (a service cannot be renamed, so its label holds the aifo name)."""
        reply = self._manager.request("GET", f"/services/{quote(ref)}")
        data = reply.json() if reply.ok else None
        found = str(data.get("ID", "")) if isinstance(data, dict) else ""
        return found or None

    def _not_running(self, ref: str, service: str) -> EngineError:
        """Why `ref` has no running task, from its tasks' last state."""
        try:
            tasks = tasks_of(self._manager, [service])[service]
        except NotFound:
            return NotFound(f"{ref}: no such service on the swarm")
        last = tasks[-1] if tasks else None
        if last is None:
            state = "has no task (scaled to 0: created, not started, or stopped)"
        else:
            state = f"has no running task (its last is {last.state}"
            state += f": {last.error})" if last.error else ")"
        return EngineError(
            f"{ref} is not running on the swarm: it {state}",
            hint="`aifo status` shows the session; `aifo apply` starts it",
        )

    def _locate(self, ref: str) -> tuple[SocketEngine, str]:
        """The node engine and container of `ref`'s running task (`ref`: what `service_id`
        resolves, or a task container id); NotFound for neither, EngineError (saying so) when
        it is not running."""
        service = self.service_id(ref)
        if service is None:
            found = self._by_container(ref)
            if found is None:
                raise NotFound(f"{ref}: no such service or task container on the swarm")
            return self._nodes.engine(found[0]), found[1]
        task = running_task(self._manager, service)
        if task is None or task.container_id is None:
            raise self._not_running(ref, service)
        return self._nodes.engine(task.node_id), task.container_id

    def _locate_last(self, ref: str) -> tuple[SocketEngine, str]:
        """As `_locate`, but a service without a running task gives its last task's container
        (a task that ended keeps it on its node: the logs of a container that exited, as on
        one host)."""
        service = self.service_id(ref)
        if service is None:
            return self._locate(ref)
        tasks = tasks_of(self._manager, [service])[service]
        chosen = next((t for t in reversed(tasks) if t.running), None) or next(
            (t for t in reversed(tasks) if t.container_id), None
        )
        if chosen is None or chosen.container_id is None:
            raise self._not_running(ref, service)
        return self._nodes.engine(chosen.node_id), chosen.container_id

    # -- the contract (container_id is SwarmEngine's: the service id) -------------------------
    def exec(
        self,
        ref: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        tty: bool = False,
        interactive: bool = False,
    ) -> int:
        engine, cid = self._locate(ref)
        return engine.exec(
            cid, argv, user=user, workdir=workdir, env=env, tty=tty, interactive=interactive
        )

    def exec_start(
        self,
        ref: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        tty: bool = False,
        interactive: bool = False,
        pipes: bool = False,
        own_group: bool = False,
        size: tuple[int, int] | None = None,
    ) -> ExecProcess:
        engine, cid = self._locate(ref)
        return engine.exec_start(
            cid, argv, user=user, workdir=workdir, env=env, tty=tty, interactive=interactive,
            pipes=pipes, own_group=own_group, size=size,
        )  # fmt: skip

    def exec_capture(
        self,
        ref: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> tuple[int, str]:
        engine, cid = self._locate(ref)
        return engine.exec_capture(
            cid, argv, user=user, workdir=workdir, env=env, timeout_s=timeout_s
        )

    def signal_marked(
        self,
        ref: str,
        marker: str,
        signal: str,
        *,
        user: str | None = None,
        timeout_s: float = 30,
        family: bool = False,
    ) -> int:
        """0 when the task is not running (nothing to signal), as on one host."""
        try:
            engine, cid = self._locate(ref)
        except EngineError:
            return 0
        return engine.signal_marked(
            cid, marker, signal, user=user, timeout_s=timeout_s, family=family
        )

    def log_tail(self, ref: str, *, lines: int = 20) -> str:
        engine, cid = self._locate_last(ref)
        return engine.log_tail(cid, lines=lines)

    def log_lines(self, ref: str, *, since: str | None = None) -> list[tuple[str, str]]:
        engine, cid = self._locate_last(ref)
        return engine.log_lines(cid, since=since)

    def logs(
        self,
        refs: Sequence[str],
        *,
        write: Callable[[bytes], None],
        follow: bool = False,
        tail: int | None = None,
    ) -> int:
        """Each service's task on its node; the lines prefixed with the service's name. A
        session's tasks share one node, so this is one node's `logs` call. A service whose task
        ended gives its last task's logs (the container that exited)."""
        located = [self._locate_last(ref) for ref in refs]
        groups: dict[int, tuple[SocketEngine, list[str], list[str]]] = {}
        for ref, (engine, cid) in zip(refs, located, strict=True):
            _, cids, names = groups.setdefault(id(engine), (engine, [], []))
            cids.append(cid)
            names.append(ref)
        if len(groups) == 1:
            engine, cids, names = next(iter(groups.values()))
            return engine.logs(cids, write=write, follow=follow, tail=tail, names=names)
        codes = each(
            lambda g: g[0].logs(g[1], write=write, follow=follow, tail=tail, names=g[2]),
            list(groups.values()),
        )
        out: list[int] = []
        for code in codes:
            if isinstance(code, BaseException):
                raise code
            out.append(code)
        return next((c for c in out if c), 0)
