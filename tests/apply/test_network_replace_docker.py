"""A network's settings change (`internal: true → false`): one apply replaces the network and
every container on it (as Compose recreates), and a failure at any mutating call puts the old
network back (same name, settings and labels; Docker gives it a new id) with the old containers
on it, running as before (issue 23)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from aifo.errors import ApplyFailed
from tests.apply.helpers import (
    IDLE,
    IMAGE,
    apply_file,
    assert_never_on_bridge,
    counting,
    destroy_all,
    docker_state,
    faulty,
    write_spec,
)
from tests.security.hostreach import guard_rules

pytestmark = pytest.mark.docker


def _spec(session: str, internal: bool) -> str:
    return f"""\
version: 1
session: {session}
networks:
  sandbox: {{internal: {str(internal).lower()}}}
  side: {{}}
services:
  db:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    networks: [sandbox]
  api:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    networks: [sandbox, side]
    depends_on: [db]
  lone:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    networks: [side]
"""


def _network(name: str) -> dict[str, Any]:
    out = subprocess.run(
        ["docker", "network", "inspect", name], capture_output=True, text=True, timeout=60
    )
    if out.returncode:
        return {}
    data = json.loads(out.stdout)[0]
    return {"internal": data["Internal"], "labels": data["Labels"], "id": data["Id"]}


def _guarded(session: str, network_id: str) -> bool:
    """The host guard drops new connections from the network's bridge (Docker's `br-<id>`)."""
    bridge = f"br-{network_id[:12]}"
    return any(bridge in words and "DROP" in words for _, words in guard_rules(session))


def _without_id(state: dict[str, Any], network: str) -> dict[str, Any]:
    return {**state, "networks": {**state["networks"], network: "-"}}


def test_changing_a_network_replaces_it_and_its_containers(
    session_name: str, tmp_path: Path
) -> None:
    v1 = write_spec(tmp_path, _spec(session_name, True), "v1.yaml")
    v2 = write_spec(tmp_path, _spec(session_name, False), "v2.yaml")
    net = f"aifo-{session_name}-sandbox"
    apply_file(counting(), v1)
    before = docker_state(session_name)
    old = _network(net)
    assert old["internal"] is True

    result = apply_file(counting(), v2)
    lines = [a.line() for a in result.plan.changes]
    assert lines == [
        "~ replace network/sandbox (internal)",
        "~ replace service/db (network/sandbox replaced)",
        "~ replace service/api (network/sandbox replaced)",
    ], lines
    after = docker_state(session_name)
    new = _network(net)
    assert new["internal"] is False and new["id"] != old["id"]
    for name in ("db", "api"):  # replaced, on the new network
        c = f"aifo-{session_name}-{name}"
        assert after["containers"][c]["id"] != before["containers"][c]["id"]
        assert after["containers"][c]["running"] and net in after["containers"][c]["networks"]
    lone = f"aifo-{session_name}-lone"
    assert after["containers"][lone] == before["containers"][lone]  # not on it: untouched
    assert_never_on_bridge(after)
    # its alias (its name) resolves on the new network
    ping = subprocess.run(
        ["docker", "exec", f"aifo-{session_name}-api", "nslookup", "db"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert apply_file(counting(), v2).plan.has_changes is False


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_fault_of_a_network_replacement_rolls_back(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    v1 = write_spec(tmp_path, _spec(session_name, True), "v1.yaml")
    v2 = write_spec(tmp_path, _spec(session_name, False), "v2.yaml")
    net = f"aifo-{session_name}-sandbox"

    def reset() -> dict[str, Any]:
        destroy_all(session_name)
        apply_file(counting(), v1)
        return docker_state(session_name)

    before = reset()
    probe = counting()
    apply_file(probe, v2)
    total = probe.count
    assert total >= 8, probe.calls
    before = reset()
    old = _network(net)
    rolled_back = 0
    for k in range(1, total + 1):
        try:
            apply_file(faulty(k), v2)
        except ApplyFailed as failed:
            assert f"injected fault at mutating call {k}" in str(failed)
            assert failed.undo_failures == (), (k, failed.cause, failed.undo_failures)
            after = docker_state(session_name)
            assert _without_id(after, net) == _without_id(before, net), f"k={k}"
            back = _network(net)
            assert (back["internal"], back["labels"]) == (old["internal"], old["labels"]), k
            # the restored internal network is kept off the host like the one it replaces
            assert _guarded(session_name, back["id"]), (k, guard_rules(session_name))
            rolled_back += 1
            before, old = after, back  # a restored network has a new id: the next round's
        else:  # the fault hit the commit phase: rolled forward
            assert _network(net)["internal"] is False
            before = reset()
            old = _network(net)
    print("network replacement sweep:", total, "calls,", rolled_back, "rolled back")
    assert rolled_back >= total - 3, (rolled_back, total)


@pytest.mark.slow
def test_a_crash_after_the_old_network_went_is_recovered(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    """SIGKILL between removing the old network and creating the new one: the next command
    finds the journal and puts the old network back, with the old containers on it, running."""
    import os
    import signal

    from tests.commands.test_reconcile_cli import Background
    from tests.security.helpers import aifo

    v1 = write_spec(tmp_path, _spec(session_name, True), "v1.yaml")
    v2 = write_spec(tmp_path, _spec(session_name, False), "v2.yaml")
    net = f"aifo-{session_name}-sandbox"
    assert aifo("apply", str(v1), "--yes").returncode == 0
    before = docker_state(session_name)
    old = _network(net)
    run = Background("apply", str(v2), "--yes", pause_at=4)
    try:
        run.wait_for("aifo-test: paused at 4 (create_network)")
        assert _network(net) == {}  # the old one is gone, the new one not there yet
        os.kill(run.proc.pid, signal.SIGKILL)
    finally:
        run.stop()
    recovered = aifo("recover", str(v1))  # status is read-only: recover rolls it back
    assert "rolled back" in recovered.stdout, recovered.stdout + recovered.stderr
    assert _without_id(docker_state(session_name), net) == _without_id(before, net)
    back = _network(net)
    assert (back["internal"], back["labels"]) == (old["internal"], old["labels"])
    assert _guarded(session_name, back["id"]), guard_rules(session_name)
