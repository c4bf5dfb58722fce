"""A no-op `aifo apply` (the hot path of CI and --watch) stays light: no rich without a
terminal, no networkx (cached layers), no transaction machinery, no python-on-whales."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.apply.helpers import IMAGE, docker_state, spec_v1, write_spec

pytestmark = pytest.mark.docker

HEAVY = (
    "rich",
    "networkx",
    "jsonschema",
    "python_on_whales",
    "aifo.apply.scheduler",
    "aifo.apply.transaction",
    "aifo.apply.recover",
)

PROBE = """
import sys
from aifo.cli import main
try:
    main(["apply", {spec!r}, "--yes"])
except SystemExit as exc:
    assert not exc.code, exc.code
print("LOADED=" + ",".join(m for m in {heavy!r} if m in sys.modules))
"""


def test_noop_apply_loads_nothing_heavy(session_name: str, state_dir: Path, tmp_path: Path) -> None:
    spec = str(write_spec(tmp_path, spec_v1(session_name)))
    first = subprocess.run(
        [sys.executable, "-m", "aifo", "apply", spec, "--yes"], text=True, capture_output=True
    )
    assert first.returncode == 0, first.stderr
    before = docker_state(session_name)
    probe = subprocess.run(
        [sys.executable, "-c", PROBE.format(spec=spec, heavy=HEAVY)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert probe.returncode == 0, probe.stderr
    assert "no changes" in probe.stdout
    assert "LOADED=\n" in probe.stdout, probe.stdout
    assert docker_state(session_name) == before


def _no_hooks(session: str) -> str:
    service = f"image: {IMAGE}\n    pull: never\n    command: [sleep, '300']"
    return (
        f"version: 1\nsession: {session}\nnetworks:\n  net: {{internal: true}}\n"
        "volumes:\n  data: {}\nservices:\n"
        f"  a:\n    {service}\n    networks: [net]\n    mounts: [{{volume: data, target: /d}}]\n"
        f"  b:\n    {service}\n    networks: [net]\n    depends_on: [a]\n"
        f"  c:\n    {service}\n"
    )


COLD_PROBE = """
import sys
import aifo.engine.run as run
processes = []
counted = run.Runner._count
def count(self, n=1):
    processes.append(n)
    counted(self, n)
run.Runner._count = count
from aifo.cli import main
try:
    main(["apply", {spec!r}, "--yes"])
except SystemExit as exc:
    assert not exc.code, exc.code
print("RICH=" + str("rich" in sys.modules))
print("SAVED_PLANS=" + str("aifo.plan.saved" in sys.modules))
print("DOCKER_PROCESSES=" + str(sum(processes)))
"""


def test_cold_apply_off_a_terminal_runs_no_docker_process_and_no_rich(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    """Issue 17: the whole cold apply (the session lock included) talks to the engine's socket,
    and off a terminal its progress is plain lines: no `docker` process (a Go binary start per
    call, competing with the daemon) and no rich import (~20 ms) on the hot path; nor the
    saved plans' module (~3 ms, issue 26)."""
    spec = str(write_spec(tmp_path, _no_hooks(session_name)))  # a hook execs through the CLI
    probe = subprocess.run(
        [sys.executable, "-c", COLD_PROBE.format(spec=spec)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert probe.returncode == 0, probe.stderr
    assert "ok      " in probe.stderr and "create container" in probe.stderr, probe.stderr
    assert "RICH=False" in probe.stdout, probe.stdout
    # issue 26: telling a spec from a saved plan loads only the plan file's light module
    assert "SAVED_PLANS=False" in probe.stdout, probe.stdout
    assert "DOCKER_PROCESSES=0" in probe.stdout, probe.stdout
    state = docker_state(session_name)
    assert len(state["containers"]) == 3 and len(state["networks"]) == 1, state


def test_an_apply_without_internal_networks_loads_no_firewall(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    """Issue 26: the host guard's firewall module (and shutil, shlex) is loaded only when a
    session has a network to guard."""
    spec = write_spec(
        tmp_path,
        f"version: 1\nsession: {session_name}\nservices:\n"
        f"  a:\n    image: {IMAGE}\n    pull: never\n    command: [sleep, '300']\n",
    )
    probe = COLD_PROBE.format(spec=str(spec)) + (
        'print("FIREWALL=" + str("aifo.engine.firewall" in sys.modules))\n'
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stderr
    assert "create container" in done.stderr, done.stderr
    assert "FIREWALL=False" in done.stdout, done.stdout
    assert len(docker_state(session_name)["containers"]) == 1
