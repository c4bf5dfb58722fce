"""A no-op `aifo apply` (the hot path of CI and --watch) stays light: no rich without a
terminal, no networkx (cached layers), no transaction machinery, no python-on-whales."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.apply.helpers import docker_state, spec_v1, write_spec

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
