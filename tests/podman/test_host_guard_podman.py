"""Internal networks must not reach the host, on Podman (issue 22 #12).

netavark's internal networks, like Docker's, filter only forwarded traffic. The bridge is named
by Podman (`podmanN`, read from libpod's inspect), and aardvark-dns answers the containers on the
gateway: the guard lets port 53 to the gateway in and nothing else. Checked with listeners on the
gateway and on the host's primary address, and with a name lookup that must keep working.
Without the rules the gateway answers (netavark gives the containers no default route, so the
primary address is out of reach either way).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from aifo.apply.destroy import destroy
from aifo.engine.choose import connect
from tests.apply.helpers import IDLE, IMAGE, apply_file, write_spec
from tests.conftest import remove_guard_rules
from tests.security.hostreach import (
    drop_rules,
    gateway,
    guard_rules,
    listening,
    primary_address,
    reaches,
)

pytestmark = [
    pytest.mark.podman,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("iptables") is None,
        reason="the host guard needs root and iptables",
    ),
]


def _podman(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *argv], capture_output=True, text=True, timeout=120)


@pytest.fixture
def pod_session(session_name: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (scripts/ensure-podman)")
    monkeypatch.setenv("AIFO_ENGINE", "podman")
    yield session_name
    label = f"label=io.aifo.session={session_name}"
    ids = _podman("ps", "-aq", "--filter", label).stdout.split()
    if ids:
        _podman("rm", "-f", "-v", *ids)
    nets = _podman("network", "ls", "-q", "--filter", label).stdout.split()
    if nets:
        _podman("network", "rm", "-f", *nets)
    remove_guard_rules(session_name)


def test_an_internal_network_reaches_no_address_of_the_host_on_podman(
    pod_session: str, tmp_path: Path, state_dir: Path
) -> None:
    path = write_spec(
        tmp_path,
        f"""\
version: 1
session: {pod_session}
networks:
  sandbox: {{internal: true}}
services:
  box:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    networks: [sandbox]
  peer:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    networks: [sandbox]
""",
    )
    apply_file(connect(), path)
    box, net = f"aifo-{pod_session}-box", f"aifo-{pod_session}-sandbox"
    interface = _podman("network", "inspect", net, "--format", "{{.NetworkInterface}}").stdout
    rules = guard_rules(pod_session)
    assert rules and all(words[words.index("-i") + 1] == interface.strip() for _, words in rules)
    assert any("--dport" in words for _, words in rules)  # aardvark-dns, on the gateway

    lookup = ["podman", "exec", box, "nslookup", "peer"]
    answer = subprocess.run(lookup, capture_output=True, text=True, timeout=60, check=False)
    assert answer.returncode == 0, answer.stdout + answer.stderr  # DNS still answers

    addresses = (gateway("podman", net), primary_address())
    with listening(*addresses) as ports:
        assert not any(reaches("podman", box, a, ports[a]) for a in addresses)
        drop_rules(pod_session)  # what the internal network alone does: the gateway answers
        # (netavark gives an internal network's containers no default route, so the host's
        # other addresses are out of reach anyway; the gateway is on their own subnet)
        assert reaches("podman", box, addresses[0], ports[addresses[0]])

    destroy(connect(), pod_session)
    assert guard_rules(pod_session) == []
