"""The run-level leak check really fails a run that leaves labelled objects behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LEAKY_TEST = """
import subprocess

def test_leaks():
    subprocess.run(["docker", "network", "create", "--label", "io.aifo.session={name}", "{name}"],
                   check=True, capture_output=True)
"""


@pytest.mark.docker
def test_a_leaking_test_fails_the_run(tmp_path: Path, session_name: str) -> None:
    root = Path(__file__).resolve().parent
    (tmp_path / "conftest.py").write_text((root / "conftest.py").read_text())
    (tmp_path / "test_leaky.py").write_text(LEAKY_TEST.format(name=session_name))
    env = {**os.environ, "AIFO_SKIP_LEAK_CHECK": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stdout
    assert "leaked Docker objects" in proc.stdout
    assert f"network {session_name}" in proc.stdout
    left = subprocess.run(
        ["docker", "network", "ls", "-q", "--filter", f"label=io.aifo.session={session_name}"],
        capture_output=True,
        text=True,
    ).stdout
    assert left == "", "the leak check must also remove what leaked"
