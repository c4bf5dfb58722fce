"""Internal networks must not reach the host (issue 22 #12), on the real engine.

A listener on the bridge's gateway and one on the host's primary address; a container on an
internal network only. With aifo's guard neither answers; with the rules deleted behind aifo's
back both do (the attack the guard stops, shown on this machine). Rollback, recovery, destroy and
the commit remove exactly the session's rules; without root or iptables apply fails closed
unless the network opts in with `allow: [host]`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from aifo.apply.journal import JOURNAL
from aifo.apply.recover import recover
from aifo.engine.choose import connect
from aifo.errors import ApplyFailed
from aifo.state.folder import session_dir
from tests.apply.helpers import (
    IDLE,
    IMAGE,
    apply_file,
    counting,
    destroy_all,
    docker_state,
    faulty,
    write_spec,
)
from tests.engine_hooks import paused_aifo
from tests.security.hostreach import (
    drop_rules,
    gateway,
    guard_rules,
    listening,
    primary_address,
    reaches,
)

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("iptables") is None,
        reason="the host guard needs root and iptables",
    ),
]


def spec(session: str, allow: str = "") -> str:
    return f"""\
version: 1
session: {session}
networks:
  sandbox: {{internal: true{allow}}}
services:
  box:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    networks: [sandbox]
"""


def test_an_internal_network_reaches_no_address_of_the_host(
    session_name: str, tmp_path: Path, state_dir: Path
) -> None:
    path = write_spec(tmp_path, spec(session_name))
    apply_file(connect(), path)
    box, net = f"aifo-{session_name}-box", f"aifo-{session_name}-sandbox"
    addresses = (gateway("docker", net), primary_address())
    with listening(*addresses) as ports:
        reached = [a for a in addresses if reaches("docker", box, a, ports[a])]
        assert reached == [], f"the container reached the host at {reached}"
        rules = guard_rules(session_name)
        assert {tool for tool, _ in rules} >= {"iptables"}
        assert all(f"network={net}" in " ".join(words) for _, words in rules)
        drop_rules(session_name)  # what an internal network alone does: the host answers
        assert all(reaches("docker", box, a, ports[a]) for a in addresses)
        result = apply_file(connect(), path)  # the next apply reads the rules back: missing
        assert [a.line() for a in result.plan.changes] == [
            "* update network/sandbox (host guard missing)"
        ]
        assert guard_rules(session_name)
        assert not any(reaches("docker", box, a, ports[a]) for a in addresses)

        # a firewall manager inserts an ACCEPT for the bridge above aifo's rules
        [bridge] = {words[words.index("-i") + 1] for _, words in guard_rules(session_name)}
        foreign = ["-i", bridge, "-m", "comment", "--comment", f"t-foreign {session_name}"]
        subprocess.run(["iptables", "-w", "10", "-I", "INPUT", "1", *foreign, "-j", "ACCEPT"],
                       check=True, timeout=30)  # fmt: skip
        try:
            assert reaches("docker", box, addresses[0], ports[addresses[0]])
            result = apply_file(connect(), path)  # seen as missing: put back on top
            assert [a.line() for a in result.plan.changes] == [
                "* update network/sandbox (host guard missing)"
            ]
            assert not any(reaches("docker", box, a, ports[a]) for a in addresses)
        finally:
            subprocess.run(["iptables", "-w", "10", "-D", "INPUT", *foreign, "-j", "ACCEPT"],
                           check=False, timeout=30)  # fmt: skip

    destroy_all(session_name)
    assert guard_rules(session_name) == []


def test_the_opt_in_sets_no_rule_and_a_removed_network_takes_its_rules(
    session_name: str, tmp_path: Path, state_dir: Path
) -> None:
    path = write_spec(tmp_path, spec(session_name, ", allow: [host]"))
    apply_file(connect(), path)
    assert guard_rules(session_name) == []
    write_spec(tmp_path, spec(session_name))
    apply_file(connect(), path)  # the opt-in dropped: the guard is set, the network kept
    assert guard_rules(session_name)
    write_spec(tmp_path, f"version: 1\nsession: {session_name}\n")
    apply_file(connect(), path)  # the network leaves the spec: its rules go in the commit
    assert guard_rules(session_name) == []
    assert docker_state(session_name)["networks"] == {}


class Unguardable:
    """The real engine, as seen by a user who may not change the firewall."""

    def __init__(self) -> None:
        self.inner = connect()

    def host_guard_problem(self) -> str:
        return "aifo runs as uid 1000, and only root may add firewall rules"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_without_root_apply_fails_closed_before_any_change(
    session_name: str, tmp_path: Path, state_dir: Path
) -> None:
    path = write_spec(tmp_path, spec(session_name))
    with pytest.raises(ApplyFailed) as caught:
        apply_file(Unguardable(), path)
    text = str(caught.value)
    assert "cannot keep their containers off this host" in text and "uid 1000" in text
    assert "allow: [host]" in text
    assert docker_state(session_name) == {"containers": {}, "networks": {}, "volumes": []}
    write_spec(tmp_path, spec(session_name, ", allow: [host]"))
    apply_file(Unguardable(), path)  # the risk, accepted
    assert guard_rules(session_name) == []


def test_every_fault_of_an_apply_leaves_no_rule(
    session_name: str, tmp_path: Path, state_dir: Path
) -> None:
    path = write_spec(tmp_path, spec(session_name))
    probe = counting()
    apply_file(probe, path)
    assert "guard_network" in probe.calls
    total = probe.count
    destroy_all(session_name)
    for k in range(1, total + 1):
        with pytest.raises(ApplyFailed):
            apply_file(faulty(k), path)
        assert guard_rules(session_name) == [], f"fault at call {k} left rules"
        assert docker_state(session_name)["containers"] == {}


def test_a_crash_after_the_guard_is_rolled_back_with_its_rules(
    session_name: str, tmp_path: Path, state_dir: Path
) -> None:
    path = write_spec(tmp_path, spec(session_name))
    probe = counting()
    apply_file(probe, path)
    at = probe.calls.index("guard_network") + 2  # paused at the call after the guard
    destroy_all(session_name)
    proc = subprocess.Popen(
        paused_aifo("apply", str(path), "--yes", at=at),
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if "aifo-test: paused at" in line or not line:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert guard_rules(session_name), "the apply was killed before it set the guard"
    journal = session_dir(session_name, create=False) / JOURNAL
    recover(connect(), journal, session_name)
    assert guard_rules(session_name) == []
    assert docker_state(session_name)["networks"] == {}
