"""Fail closed on a node whose daemon does not give no-new-privileges (a real 2-node swarm, n2
started `--without-nnp`), and on a task whose image cannot show its /proc/1/status."""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aifo.engine.swarm.nodes import Nodes
from aifo.engine.swarm.placement import choose_node
from aifo.engine.swarm.tasks import TaskRef, running_task
from aifo.engine.swarm.verify import verify_task
from aifo.errors import NoNodeQualifies, VerificationFailed
from aifo.model import Container
from aifo.state.nodefacts import read_facts, record_fact
from tests.swarm.nodes_helpers import (
    IMAGE,
    SCRIPT,
    Swarm,
    create_service,
    remove_services,
    swarm,
    wait_for,
)

pytestmark = [pytest.mark.swarm, pytest.mark.slow]

NO_CAT = f"aifo-test/no-cat:{secrets.token_hex(3)}"  # busybox as /busybox alone: no cat, no sh


@pytest.fixture(scope="module")
def half() -> Iterator[Swarm]:
    """n1 gives no-new-privileges, n2 does not; an image without `cat` loaded into both."""
    build = subprocess.run(
        ["docker", "build", "-q", "-t", NO_CAT, "-"],
        input=f"FROM scratch\nCOPY --from={IMAGE} /bin/busybox /busybox\n",
        text=True, capture_output=True, env={"DOCKER_BUILDKIT": "0", "PATH": "/usr/bin:/bin"},
        check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    try:
        with swarm("--without-nnp", "n2") as made:
            load = [str(SCRIPT), "load", "--name", made.name, NO_CAT]
            subprocess.run(load, check=True, capture_output=True, timeout=120)
            try:
                yield made
            finally:
                remove_services(made.manager)
    finally:
        subprocess.run(["docker", "rmi", "-f", NO_CAT], capture_output=True, check=False)


def _container(*, no_new_privileges: bool = True) -> Container:
    return Container(
        name="agent", role="agent", docker_name="x", image=IMAGE, cap_drop=("ALL",),
        no_new_privileges=no_new_privileges,
    )  # fmt: skip


def _task(
    two: Swarm, node: str, *, image: str = IMAGE, args: tuple[str, ...] = ("sleep", "600")
) -> TaskRef:
    name = f"t-{secrets.token_hex(4)}"
    create_service(
        two.manager, name, node=two.hostname(node), container={"CapabilityDrop": ["ALL"]},
        image=image, args=args,
    )  # fmt: skip
    task: TaskRef = wait_for(lambda: running_task(two.manager, name), what="the task running")
    return task


def test_fail_closed_on_a_node_without_nnp(half: Swarm, state_dir: Path) -> None:
    nodes = Nodes(half.manager, half.environ)
    n1, n2 = half.node_id("n1"), half.node_id("n2")
    on_n2 = _task(half, "n2")
    with pytest.raises(VerificationFailed) as caught:
        verify_task(nodes, on_n2, _container())
    message = caught.value.message
    assert f"container agent on swarm node {half.hostname('n2')}" in message
    assert "NoNewPrivs 0" in message and '"no-new-privileges": true' in message
    assert "daemon.json" in message and "no_new_privileges: false" in message
    assert read_facts()[n2].nnp is False  # recorded: placement avoids n2 from now on
    verify_task(nodes, on_n2, _container(no_new_privileges=False))  # the spec's opt-out

    verify_task(nodes, _task(half, "n1"), _container())  # n1 gives it
    assert read_facts()[n1].nnp is True
    session = f"t-{secrets.token_hex(4)}"
    assert choose_node(nodes, read_facts(), session).id == n1
    # with n1 seen without it too (say its daemon.json was changed), no node qualifies
    record_fact(n1, half.hostname("n1"), nnp=False, now=time.time())
    with pytest.raises(NoNodeQualifies) as none:
        choose_node(nodes, read_facts(), session)
    assert len(none.value.items) == 2 and all("no no-new-privileges" in i for i in none.value.items)
    assert choose_node(nodes, read_facts(), session, needs_nnp=False).id in (n1, n2)


def test_an_image_without_cat_fails_closed(half: Swarm, state_dir: Path) -> None:
    nodes = Nodes(half.manager, half.environ)
    task = _task(half, "n1", image=NO_CAT, args=("/busybox", "sleep", "600"))
    with pytest.raises(VerificationFailed, match="neither `cat` nor `sh`.*add a `cat`"):
        verify_task(nodes, task, _container())
    assert half.node_id("n1") not in read_facts()  # nothing learned, nothing recorded
