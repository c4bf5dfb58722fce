"""A build with a fixed `image.name` is rebuilt when its Dockerfile changes (issue 23): the tag
stays, so the image's build label decides, and the replaced container runs the new image."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.images.helpers import aifo, applied

pytestmark = pytest.mark.docker

SPEC = """\
version: 1
session: {session}
agents:
  a:
    image: {{build: {{context: ./ctx}}, name: "{ref}"}}
    pull: never
    command: [sleep, "2147483647"]
    workspace: false
"""


def _marker(session: str) -> str:
    out = subprocess.run(
        ["docker", "exec", f"aifo-{session}-a", "cat", "/marker"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return out.stdout.strip()


def test_a_dockerfile_edit_rebuilds_a_fixed_name(
    session_name: str, tmp_path: Path, busybox_image: str
) -> None:
    ref = f"aifo-test-fixed/{session_name}:dev"
    state = tmp_path / "state"
    (tmp_path / "ctx").mkdir()
    dockerfile = tmp_path / "ctx" / "Dockerfile"
    dockerfile.write_text(f"FROM {busybox_image}\nRUN echo one > /marker\n")
    spec = tmp_path / "aifo.yaml"
    spec.write_text(SPEC.format(session=session_name, ref=ref))
    try:
        applied(aifo("apply", spec, "--yes", state=state))
        assert _marker(session_name) == "one"
        dockerfile.write_text(f"FROM {busybox_image}\nRUN echo two > /marker\n")
        plan = aifo("plan", spec, state=state)
        assert f"image/{ref}" in plan.stdout and "build inputs changed" in plan.stdout, (
            plan.stdout + plan.stderr
        )
        applied(aifo("apply", spec, "--yes", state=state))
        assert _marker(session_name) == "two"  # the new image runs, not the old one
        again = aifo("plan", spec, "--detailed-exitcode", state=state)
        assert again.returncode == 0, again.stdout + again.stderr  # and then it is current
    finally:
        aifo("destroy", spec, "--yes", state=state)
        subprocess.run(["docker", "image", "rm", "-f", ref], capture_output=True, check=False)
