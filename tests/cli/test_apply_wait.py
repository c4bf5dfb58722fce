"""`aifo apply --wait`: every container ready (healthy, or running) before it returns, a row
per wait; not ready within --wait-timeout rolls back like any other failure."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli.helpers import aifo

pytestmark = pytest.mark.docker


def _spec(session: str, image: str, check: str) -> str:
    return f"""\
version: 1
session: {session}
networks:
  sandbox: {{internal: true}}
services:
  web:
    image: {image}
    pull: never
    command: ["sh", "-c", "sleep 1; touch /tmp/ok; exec sleep 2147483647"]
    networks: [sandbox]
    workspace: false
    healthcheck:
      test: ["CMD", "sh", "-c", "{check}"]
      interval: 1s
      retries: 1
agents:
  idle:
    image: {image}
    pull: never
    command: ["sleep", "2147483647"]
    networks: [sandbox]
    workspace: false
"""


def _health(name: str) -> str:
    out = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Health.Status}}", name],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip()


def _events(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_wait_returns_when_every_container_is_ready(
    session_name: str, state_dir: Path, tmp_path: Path, busybox_image: str
) -> None:
    (tmp_path / "aifo.yaml").write_text(_spec(session_name, busybox_image, "test -f /tmp/ok"))
    proc = aifo("apply", "--yes", "--wait", "--wait-timeout", "60", "-o", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _health(f"aifo-{session_name}-web") == "healthy"
    waits = [e for e in _events(proc.stdout) if e.get("op") == "wait"]
    assert {(e["event"], e["id"], e["until"]) for e in waits} == {
        ("action.start", "service/web", "healthy"),
        ("action.done", "service/web", "healthy"),
        ("action.start", "agent/idle", "started"),
        ("action.done", "agent/idle", "started"),
    }
    again = aifo("apply", "--yes", "--wait", cwd=tmp_path)  # no changes: still waits, exit 0
    assert again.returncode == 0, again.stderr
    assert "every container ready" in again.stdout


@pytest.mark.slow
def test_not_ready_in_time_rolls_back(
    session_name: str, state_dir: Path, tmp_path: Path, busybox_image: str
) -> None:
    (tmp_path / "aifo.yaml").write_text(_spec(session_name, busybox_image, "false"))
    proc = aifo("apply", "--yes", "--wait", "--wait-timeout", "4", cwd=tmp_path)
    assert proc.returncode == 1
    assert "service/web" in proc.stderr and "rolled back" in proc.stderr.lower()
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=io.aifo.session={session_name}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert left.stdout.split() == []


def test_wait_timeout_needs_wait(tmp_path: Path) -> None:
    (tmp_path / "aifo.yaml").write_text("version: 1\nsession: x\n")
    proc = aifo("apply", "--wait-timeout", "3", cwd=tmp_path)
    assert proc.returncode == 2 and "--wait-timeout needs --wait" in proc.stderr
