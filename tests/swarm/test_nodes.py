"""Node access on a real 2-node swarm: the node list, each node's own engine, a service's task."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aifo.engine.swarm.execs import SwarmExec
from aifo.engine.swarm.nodes import Nodes
from aifo.engine.swarm.placement import choose_node, constraint
from aifo.engine.swarm.tasks import TaskRef, running_task, tasks_of
from aifo.engine.swarm.verify import proc_status, task_problem, verify_task
from aifo.engine.wire import Wire
from aifo.errors import EngineError, NotFound
from aifo.model import LABEL_SESSION, Container
from aifo.state.nodefacts import NodeFact, read_facts
from tests.swarm.nodes_helpers import (
    IMAGE,
    Swarm,
    create_service,
    remove_services,
    wait_for,
)

pytestmark = [pytest.mark.swarm, pytest.mark.slow]


@pytest.fixture(scope="module")
def two(core_swarm: Swarm) -> Iterator[Swarm]:
    """The tier's swarm (tests/swarm/conftest.py); this module's services removed at its end."""
    try:
        yield core_swarm
    finally:
        remove_services(core_swarm.manager)


def test_nodes_and_their_engines(two: Swarm) -> None:
    nodes = Nodes(two.manager, two.environ)
    listed = {n.hostname: n for n in nodes.all()}
    assert set(listed) == {two.hostname("n1"), two.hostname("n2")}
    n1, n2 = listed[two.hostname("n1")], listed[two.hostname("n2")]
    assert n1.manager and not n2.manager
    assert all(n.ready and n.active for n in listed.values())
    engine = nodes.engine(n2.id)
    assert engine.wire.path == two.socket("n2")
    info = engine.wire.call("GET", "/info", op="read", obj="info")
    assert info["Name"] == two.hostname("n2")  # the node's own daemon, not the manager
    assert nodes.engine(n2.id) is engine


def test_a_node_without_an_endpoint_is_named(two: Swarm) -> None:
    only_n1 = f"{two.hostname('n1')}=unix://{two.socket('n1')}"
    nodes = Nodes(two.manager, {"AIFO_SWARM_NODES": only_n1, "DOCKER_CONFIG": "/nonexistent"})
    with pytest.raises(EngineError, match=f"swarm node {two.hostname('n2')}"):
        nodes.engine(two.node_id("n2"))


def test_an_endpoint_of_another_node_is_refused(two: Swarm) -> None:
    swapped = (
        f"{two.hostname('n1')}=unix://{two.socket('n2')},"
        f"{two.hostname('n2')}=unix://{two.socket('n1')}"
    )
    nodes = Nodes(two.manager, {"AIFO_SWARM_NODES": swapped})
    with pytest.raises(EngineError, match=f"is the engine of node {two.hostname('n1')}") as err:
        nodes.engine(two.node_id("n2"))
    assert err.value.hint and "AIFO_SWARM_NODES" in err.value.hint
    outside = Nodes(
        two.manager, {"AIFO_SWARM_NODES": f"{two.hostname('n2')}=unix:///var/run/docker.sock"}
    )
    with pytest.raises(EngineError, match="outside the swarm"):
        outside.engine(two.node_id("n2"))


def test_a_worker_is_no_manager(two: Swarm) -> None:
    nodes = Nodes(Wire(two.socket("n2")), two.environ)
    with pytest.raises(EngineError, match="not a swarm manager") as caught:
        nodes.all()
    assert caught.value.hint and "manager" in caught.value.hint


def test_running_task_on_a_worker(two: Swarm) -> None:
    manager = two.manager
    name = f"t-{secrets.token_hex(4)}"
    sid = create_service(manager, name, node=two.hostname("n2"))
    task = wait_for(lambda: running_task(manager, name), what="the task running")
    assert task.service_id == sid and task.node_id == two.node_id("n2")
    assert running_task(manager, sid) == task  # by id as by name
    with pytest.raises(NotFound, match="not found"):
        running_task(manager, f"t-{secrets.token_hex(4)}")
    node_engine = Nodes(manager, two.environ).engine(task.node_id)
    assert node_engine.container_id(task.container_id) == task.container_id  # CLI: on n2


def test_tasks_of_many_services_in_one_request(two: Swarm) -> None:
    manager = two.manager
    good = create_service(manager, f"t-{secrets.token_hex(4)}", node=two.hostname("n1"))
    bad = create_service(
        manager, f"t-{secrets.token_hex(4)}", node=two.hostname("n1"), image="aifo-test/none:1"
    )
    wait_for(lambda: tasks_of(manager, [bad])[bad], what="a task of the bad service")
    before = manager.requests
    found = tasks_of(manager, [good, bad, good])
    assert manager.requests == before + 1 and set(found) == {good, bad}
    rejected = wait_for(
        lambda: [t for t in tasks_of(manager, [bad])[bad] if t.state == "rejected"],
        what="the task rejected",
    )
    assert "No such image" in rejected[0].error
    assert running_task(manager, bad) is None


class Swarmish(SwarmExec):
    """The exec part of the Swarm adapter, on its own."""

    def __init__(self, environ: dict[str, str]) -> None:
        self._manager = Wire(environ["DOCKER_HOST"].removeprefix("unix://"))
        self._nodes = Nodes(self._manager, environ)


def _container(**kw: object) -> Container:
    return Container(name="agent", role="agent", docker_name="x", image=IMAGE, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def on_n2(two: Swarm) -> tuple[str, TaskRef]:
    """A service on the worker, its caps dropped as aifo's defaults do; its running task."""
    name = f"t-{secrets.token_hex(4)}"
    create_service(
        two.manager, name, node=two.hostname("n2"),
        args=("sh", "-c", "echo hello from n2; echo oops >&2; exec sleep 600"),
        container={"CapabilityDrop": ["ALL"], "Init": True, "User": "1000:1000"},
    )  # fmt: skip
    task = wait_for(lambda: running_task(two.manager, name), what="the task running")
    return name, task


def test_exec_on_a_worker_goes_through_its_socket(two: Swarm, on_n2: tuple[str, TaskRef]) -> None:
    name, task = on_n2
    swarm = Swarmish(two.environ)
    code, out = swarm.exec_capture(name, ["hostname"])
    assert code == 0 and task.container_id and task.container_id.startswith(out.strip())
    n2 = swarm._nodes.engine(task.node_id)
    assert n2.wire.path == two.socket("n2") and n2.wire.requests >= 2  # exec create + start
    assert two.manager.request("GET", f"/containers/{task.container_id}/json").status == 404
    assert swarm.exec_capture(task.service_id, ["id", "-u"]) == (0, "1000\n")  # by id
    assert swarm.exec_capture(task.container_id, ["id", "-u"]) == (0, "1000\n")  # by container
    assert swarm.exec(name, ["sh", "-c", "exit 3"]) == 3  # attached (the CLI, aimed at n2)
    proc = swarm.exec_start(name, ["cat"], interactive=True, pipes=True)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"ping\n")
    proc.stdin.close()
    assert proc.stdout.read() == b"ping\n" and proc.wait(10) == 0
    assert swarm.signal_marked(name, "AIFO_NO_SUCH=1", "TERM") == 0


def test_logs_of_a_task_on_a_worker(two: Swarm, on_n2: tuple[str, TaskRef]) -> None:
    name, _ = on_n2
    swarm = Swarmish(two.environ)
    assert "hello from n2" in swarm.log_tail(name)
    assert [text for _, text in swarm.log_lines(name)] == ["hello from n2"]  # stdout only
    lines: list[bytes] = []
    assert swarm.logs([name, name], write=lines.append) == 0
    assert f"{name} | hello from n2\n".encode() in lines


def test_exec_when_the_task_is_not_running(two: Swarm) -> None:
    manager, swarm = two.manager, Swarmish(two.environ)
    name = f"t-{secrets.token_hex(4)}"
    sid = create_service(manager, name, node=two.hostname("n1"), image="aifo-test/none:1")
    wait_for(lambda: any(t.state == "rejected" for t in tasks_of(manager, [sid])[sid]))
    with pytest.raises(EngineError, match=f"{name} is not running on the swarm.*rejected"):
        swarm.exec_capture(name, ["true"])
    assert swarm.signal_marked(name, "A=1", "TERM") == 0
    with pytest.raises(NotFound, match="no such service"):
        swarm.log_tail("t-no-such-service")


def test_secure_defaults_verified_on_the_task(
    two: Swarm, on_n2: tuple[str, TaskRef], state_dir: Path
) -> None:
    _, task = on_n2
    nodes = Nodes(two.manager, two.environ)
    dropped = _container(cap_drop=("ALL",), user="1000:1000")
    verify_task(nodes, task, dropped)  # NoNewPrivs 1, CapEff 0, Seccomp 2: passes
    assert read_facts()[task.node_id].nnp is True  # recorded for placement
    assert task.container_id is not None
    # the same task against a spec that keeps fewer capabilities than the task has is refused
    n2 = nodes.engine(task.node_id)
    assert task_problem(n2, task.container_id, dropped) is None
    status = proc_status(n2, task.container_id)
    assert (status["NoNewPrivs"], int(status["CapEff"], 16), status["Seccomp"]) == ("1", 0, "2")
    wider = create_service(two.manager, f"t-{secrets.token_hex(4)}", node=two.hostname("n2"))
    wide = wait_for(lambda: running_task(two.manager, wider), what="the task running")
    problem = task_problem(n2, wide.container_id, dropped)
    assert problem and f"swarm node {two.hostname('n2')}" in problem
    assert "capabilities beyond what the spec leaves" in problem and "CHOWN" in problem


def test_placement_one_node_for_the_whole_session(two: Swarm, state_dir: Path) -> None:
    nodes = Nodes(two.manager, two.environ)
    session = f"t-{secrets.token_hex(4)}"
    n2 = two.node_id("n2")
    facts = {n2: NodeFact(n2, two.hostname("n2"), True, int(time.time()))}
    chosen = choose_node(nodes, facts, session)
    assert chosen.id == n2  # known to give no-new-privileges
    services = []
    for part in ("agent", "tools", "proxy"):
        services.append(
            create_service(
                two.manager, f"{session}-{part}", node=two.hostname("n1"),
                labels={LABEL_SESSION: session}, constraints=[constraint(chosen)],
            )
        )  # fmt: skip
    running = wait_for(
        lambda: all(running_task(two.manager, s) for s in services), what="all tasks running"
    )
    assert running
    assert {t.node_id for ts in tasks_of(two.manager, services).values() for t in ts} == {n2}
    # the session stays where its services are, whatever the facts say now
    bad = {n2: NodeFact(n2, two.hostname("n2"), False, int(time.time()))}
    assert choose_node(nodes, bad, session).id == n2
    other = f"t-{secrets.token_hex(4)}"
    assert choose_node(nodes, bad, other).id == two.node_id("n1")
    # sessions this process placed but whose tasks do not run yet count as load (forks spread)
    n1 = two.node_id("n1")
    assert choose_node(nodes, {}, other, pending={n1: 100}).id == n2
    assert choose_node(nodes, {}, other, pending={n2: 100}).id == n1
