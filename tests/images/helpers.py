"""Shared by the real-image tests: a catalog session applied by aifo itself (as a process), and
the seeded stand-ins it needs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def aifo(
    *argv: str | Path, state: Path, timeout: float = 300, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m aifo ARGV` with stdin closed and its own state folder; output captured."""
    return subprocess.run(
        [sys.executable, "-m", "aifo", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "AIFO_STATE_DIR": str(state), **(env or {})},
        check=False,
    )


def need_images(*refs: str) -> None:
    """Fail (never skip) when `scripts/seed-images` has not made the real images."""
    missing = [
        ref
        for ref in refs
        if subprocess.run(
            ["docker", "image", "inspect", ref], capture_output=True, timeout=60, check=False
        ).returncode
        != 0
    ]
    if missing:
        pytest.fail(f"missing images {', '.join(missing)}: run scripts/seed-images")


def applied(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
