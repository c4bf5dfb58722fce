"""A container whose command ends (a one-shot: `true`, `sh -c "exit 3"`, a setup step) on a real
2-node Swarm, each case as one host has it or failing closed where Swarm cannot give its
guarantee (docs/swarm.md, "What differs from one host"):

- it ends before apply verifies it: the apply fails and rolls back, naming the exit code as one
  host's verification does ("is exited (exit code N), not running"), never "could not start";
- with a restart policy (one host: `restarting`, the apply passes) Swarm cannot read the secure
  defaults of a task that is never running long enough: it fails closed, and the rollback stops
  Swarm's restarts within seconds (it waited 60 s, failed and left the service restarting);
- it ends after its start was verified: `exited` with its exit code, its logs still readable
  (the task's container stays on its node), a re-apply starts it again (as on one host: the
  plan says `start`, reason `exited`), destroy leaves nothing on any node.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from aifo.apply.journal import JOURNAL
from aifo.engine.choose import connect
from aifo.engine.swarm.adapter import SwarmEngine
from aifo.errors import ApplyFailed
from aifo.plan.actions import Start
from tests.apply.helpers import IDLE, IMAGE, apply_file, counting, destroy_all, write_spec
from tests.swarm.conftest import EMPTY, swarm_state
from tests.swarm.nodes_helpers import Swarm

pytestmark = [pytest.mark.docker, pytest.mark.swarm, pytest.mark.slow, pytest.mark.timeout(600)]


def spec(session: str, command: str, restart: str = "no") -> str:
    """A container that stays up, on an internal overlay, and `once` running `command`."""
    return f"""\
version: 1
session: {session}
networks:
  back: {{internal: true}}
services:
  idle:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    networks: [back]
  once:
    image: {IMAGE}
    pull: never
    command: {command}
    restart: "{restart}"
    networks: [back]
"""


def _failed_apply(path: Path) -> tuple[ApplyFailed, float]:
    started = time.monotonic()
    with pytest.raises(ApplyFailed) as caught:
        apply_file(counting(), path)
    return caught.value, time.monotonic() - started


@pytest.mark.parametrize(
    ("command", "code"), [('["true"]', 0), ('["sh", "-c", "echo bye; exit 3"]', 3)]
)
def test_a_one_shot_fails_the_apply_as_on_one_host(
    on_swarm: Swarm,
    swarm_session: str,
    tmp_path: Path,
    state_dir: Path,
    command: str,
    code: int,
) -> None:
    session = swarm_session
    failed, took = _failed_apply(write_spec(tmp_path, spec(session, command)))
    # one host's verification says so (aifo.plan.verify), when the container has exited by
    # then: its apply passes when its inspect comes first (1 of 8 runs of `true` here); Swarm
    # never passes a task it could not verify. Before: "could not start on Swarm: ..."
    assert f"is exited (exit code {code}), not running" in str(failed), failed
    assert "could not start" not in str(failed), failed
    assert "before aifo could verify its secure defaults" in str(failed), failed
    assert failed.undo_failures == (), failed.undo_failures
    assert took < 20, took  # not retried, not waited for
    assert swarm_state(on_swarm, session) == EMPTY
    assert not (state_dir / "sessions" / session / JOURNAL).exists()


def test_restarting_one_shots_fail_closed_and_their_rollback_stops_the_restarts(
    on_swarm: Swarm, swarm_session: str, tmp_path: Path, state_dir: Path
) -> None:
    session = swarm_session
    text = (
        spec(session, '["true"]', "always")
        + f"""\
  twice:
    image: {IMAGE}
    pull: never
    command: ["sh", "-c", "exit 3"]
    restart: on-failure
    networks: []
"""
    )
    failed, took = _failed_apply(write_spec(tmp_path, text))
    assert "is exited (exit code" in str(failed), failed
    # before: the undo waited for a moment when neither service had a task on its way to
    # running (Swarm makes the next one at once and holds it `ready` for 5 s), gave up after
    # 60 s and left both restarting for ever
    assert failed.undo_failures == (), failed.undo_failures
    assert took < 30, took
    assert swarm_state(on_swarm, session) == EMPTY
    time.sleep(6)  # Swarm's restart delay (5 s): nothing comes back
    assert swarm_state(on_swarm, session) == EMPTY


def test_a_container_that_exits_after_its_start(
    on_swarm: Swarm, swarm_session: str, tmp_path: Path
) -> None:
    session = swarm_session
    path = write_spec(tmp_path, spec(session, '["sh", "-c", "echo late done; sleep 6; exit 3"]'))
    apply_file(counting(), path)  # verified while it ran
    engine = connect()
    assert isinstance(engine, SwarmEngine)
    name = f"aifo-{session}-once"
    deadline = time.monotonic() + 60
    while (found := engine.inspect_containers([name])[0]).state != "exited":
        assert time.monotonic() < deadline, found
        time.sleep(0.5)
    assert found.exit_code == 3, found  # before: 0 (only a running task's container was read)

    # its logs: the task's container stays on its node (before: "is not running on the swarm")
    assert "late done" in engine.log_tail(name)
    written: list[bytes] = []  # `aifo logs` of the session: one running, one exited
    assert engine.logs([f"aifo-{session}-idle", name], write=written.append) == 0
    assert any(line.endswith(b" | late done\n") for line in written), written

    # a re-apply of the unchanged spec starts it again, as one host's does
    again = apply_file(counting(), path)
    assert [(type(a), a.docker_name, a.reasons) for a in again.plan.changes] == [
        (Start, name, ("exited",))
    ]
    assert engine.inspect_containers([name])[0].state == "running"
    probe = counting()  # while it runs: nothing to do (the forced new task is no drift)
    assert not apply_file(probe, path).plan.has_changes and probe.count == 0, probe.calls

    destroy_all(session)
    assert swarm_state(on_swarm, session) == EMPTY  # every task's container, on every node
