"""Node access on a real 2-node swarm: the node list, each node's own engine, a service's task."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from aifo.engine.swarm.nodes import Nodes
from aifo.engine.swarm.tasks import running_task, tasks_of
from aifo.errors import EngineError
from tests.swarm.nodes_helpers import Swarm, create_service, remove_services, swarm, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def two() -> Iterator[Swarm]:
    with swarm() as made:
        try:
            yield made
        finally:
            remove_services(made.manager)


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


def test_running_task_on_a_worker(two: Swarm) -> None:
    manager = two.manager
    name = f"t-{secrets.token_hex(4)}"
    sid = create_service(manager, name, node=two.hostname("n2"))
    task = wait_for(lambda: running_task(manager, name), what="the task running")
    assert task.service_id == sid and task.node_id == two.node_id("n2")
    assert running_task(manager, sid) == task  # by id as by name
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
