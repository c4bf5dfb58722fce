"""Running `aifo` in-process (aifo.cli.main) and as a process, for the CLI tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aifo.cli import main


def run(argv: list[str]) -> int:
    """`aifo ARGV` in this process; its exit code (output goes to capsys)."""
    with pytest.raises(SystemExit) as done:
        main(argv)
    code = done.value.code
    return code if isinstance(code, int) else 0


def aifo(
    *argv: str, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m aifo ARGV` as a process (never a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "aifo", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        check=False,
    )


def idle_spec(session: str, image: str = "aifo-test/busybox:latest") -> str:
    return f"""\
version: 1
session: {session}
networks:
  sandbox: {{internal: true}}
agents:
  hello:
    image: {image}
    pull: never
    command: ["sleep", "2147483647"]
    networks: [sandbox]
    workspace: false
"""
