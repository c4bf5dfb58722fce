"""Shared by the real-engine security and attach tests: the CLI as a process, an independent
view of Docker (plain `docker` calls, not the code under test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

IMAGE = "aifo-test/busybox:latest"
IDLE = '["sleep", "2147483647"]'


def aifo(
    *argv: str | Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    prefix: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """`[PREFIX] python -m runner ARGV` with stdin closed (never a TTY); output captured."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "aifo", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        check=False,
    )


def docker(*argv: str) -> str:
    return subprocess.run(
        ["docker", *argv], capture_output=True, text=True, timeout=60, check=True
    ).stdout


def inspect(name: str) -> dict[str, Any]:
    data: list[dict[str, Any]] = json.loads(docker("container", "inspect", name))
    return data[0]


def engine_security_options() -> list[str]:
    options: list[str] = json.loads(docker("info", "--format", "{{json .SecurityOptions}}"))
    return options
