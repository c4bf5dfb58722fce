"""Drift that matters is seen and fixed, on the real engine (issue 13 item 4): a container put on
the default bridge, an agent moved to another network, a pids limit lifted with `docker update`.
`plan --detailed-exitcode` exits 2 (changes) and names field, expected and found; `status` marks it;
`apply` converges (attachments in place, keeping the container; other facts by replacement) and
every fault of that repair rolls back to the drifted state exactly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aifo.errors import ApplyFailed
from tests.apply.helpers import (
    apply_file,
    counting,
    docker_state,
    faulty,
    spec_v1,
    write_spec,
)

pytestmark = pytest.mark.docker


def _docker(*argv: str) -> str:
    return subprocess.run(
        ["docker", *argv], check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()


def _aifo(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aifo", *argv], capture_output=True, text=True, timeout=120
    )


def _drift(session: str) -> None:
    """The three findings of the hostile review, by hand with the docker CLI."""
    _docker("network", "connect", "bridge", f"aifo-{session}-cache")
    _docker("network", "disconnect", f"aifo-{session}-front", f"aifo-{session}-bot")
    _docker("network", "connect", f"aifo-{session}-back", f"aifo-{session}-bot")
    _docker("update", "--pids-limit", "-1", f"aifo-{session}-db")


def _pids(name: str) -> str:
    return _docker("inspect", "--format", "{{.HostConfig.PidsLimit}}", name)


@pytest.mark.slow
def test_drift_is_planned_marked_and_fixed(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, spec_v1(session_name))
    apply_file(counting(), spec)
    declared = docker_state(session_name)
    limit = _pids(f"aifo-{session_name}-db")
    _drift(session_name)

    plan = _aifo("plan", str(spec), "--detailed-exitcode")
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "update" in plan.stdout and "service/cache" in plan.stdout
    assert "networks: expected" in plan.stdout and "bridge" in plan.stdout
    assert f"pids_limit: expected {limit}, found unset" in plan.stdout, plan.stdout
    as_json = json.loads(_aifo("plan", str(spec), "-o", "json").stdout)
    ops = {a["id"]: a for a in as_json["actions"]}
    assert ops["service/cache"]["op"] == "update"
    assert ops["service/cache"]["disconnect"] == ["bridge"]
    assert ops["agent/bot"]["op"] == "update"
    assert ops["service/db"]["op"] == "replace"
    expected = {"field": "pids_limit", "expected": int(limit), "found": None}
    assert expected in ops["service/db"]["drift"]

    status = json.loads(_aifo("status", str(spec), "-o", "json").stdout)
    drifted = {o["resource"] for o in status["objects"] if o.get("drift")}
    assert drifted == {"service/cache", "agent/bot", "service/db"}

    result = _aifo("apply", str(spec), "--yes")
    assert result.returncode == 0, result.stderr
    after = docker_state(session_name)
    assert after["containers"] == {
        name: {**c, "id": after["containers"][name]["id"]}
        for name, c in declared["containers"].items()
    }
    for name in ("cache", "bot"):  # put right in place: the same containers
        key = f"aifo-{session_name}-{name}"
        assert after["containers"][key]["id"] == declared["containers"][key]["id"]
    assert _pids(f"aifo-{session_name}-db") == limit
    again = _aifo("plan", str(spec), "--detailed-exitcode")
    assert again.returncode == 0, again.stdout


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_fault_of_a_drift_repair_rolls_back(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, spec_v1(session_name))
    apply_file(counting(), spec)
    _drift(session_name)
    drifted = docker_state(session_name)
    probe_total = 0
    k = 0
    while True:
        k += 1
        try:
            apply_file(faulty(k), spec)
        except ApplyFailed as failed:
            assert f"injected fault at mutating call {k}" in str(failed)
            assert failed.undo_failures == (), (k, failed.undo_failures)
            assert docker_state(session_name) == drifted, f"k={k}: not rolled back"
            continue
        probe_total = k
        break
    # the repair's connect, disconnects and replacement were each failed once
    assert probe_total >= 6, probe_total
