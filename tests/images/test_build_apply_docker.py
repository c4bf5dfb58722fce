"""Builds inside `aifo apply`: step progress streamed (plain lines off a terminal, events with
-o json), and a failed build reported with its step's output and exit code, rolled back with no
debris (no container of the failed step left behind)."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from pathlib import Path

import pytest

from tests.images.helpers import aifo

pytestmark = pytest.mark.docker

SPEC = """\
version: 1
session: {session}
agents:
  a:
    image: {{build: {{context: ./ctx}}}}
    command: [sleep, infinity]
    workspace: false
"""


def _spec(tmp_path: Path, session: str, busybox: str, run: str) -> Path:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text(f"FROM {busybox}\nRUN echo one\nRUN {run}\n")
    spec = tmp_path / "aifo.yaml"
    spec.write_text(SPEC.format(session=session))
    return spec


def _containers_with(token: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if token in line]


def test_a_failed_build_shows_its_step_and_leaves_docker_as_it_was(
    session_name: str, tmp_path: Path, busybox_image: str
) -> None:
    token = secrets.token_hex(6)
    spec = _spec(tmp_path, session_name, busybox_image, f"echo why-{token} >&2; exit 5")
    proc = aifo("apply", spec, "--yes", state=tmp_path.parent / f"{tmp_path.name}-state")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert re.search(r"step 2/\d+: RUN echo one\n", out)  # progress, plain lines off a terminal
    assert re.search(r"step 3/\d+ `RUN echo why-", out) and "(exit code 5)" in out
    assert f"  why-{token}" in out  # the failing step's own output, not cut off
    assert "Docker is as it was" in out
    assert _containers_with(token) == []


@pytest.mark.slow
def test_build_steps_are_json_events(session_name: str, tmp_path: Path, busybox_image: str) -> None:
    spec = _spec(tmp_path, session_name, busybox_image, "echo two")
    try:
        proc = aifo(
            "apply", spec, "--yes", "-o", "json", state=tmp_path.parent / f"{tmp_path.name}-state"
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        steps = [e for e in events if e["event"] == "action.progress"]
        # The builder adds a step per label after the Dockerfile's three.
        assert [e["step"] for e in steps] == list(range(1, len(steps) + 1))
        assert {e["steps"] for e in steps} == {len(steps)} and len(steps) >= 3
        assert [e["instruction"] for e in steps[1:3]] == ["RUN echo one", "RUN echo two"]
        assert all(e["op"] == "build_image" and e["id"].startswith("image/") for e in steps)
    finally:
        aifo("destroy", spec, "--yes", state=tmp_path.parent / f"{tmp_path.name}-state")
        images = subprocess.run(
            ["docker", "images", "-q", "--filter", f"label=io.aifo.session={session_name}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout.split()
        if images:
            subprocess.run(
                ["docker", "image", "rm", "-f", *set(images)],
                capture_output=True,
                timeout=60,
                check=False,
            )
