"""A host port that is already taken: the apply fails and rolls back with a located error that
names the spec's `ports[N]` entry (FILE:LINE:COL) and a hint, never the daemon's ids (issue 23)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.apply.helpers import IDLE, IMAGE, docker_state

pytestmark = pytest.mark.docker


def test_a_taken_host_port_names_its_ports_entry(session_name: str, tmp_path: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))  # loopback only: a port nobody else uses
    holder.listen()
    taken = holder.getsockname()[1]
    spec = tmp_path / "aifo.yaml"
    spec.write_text(
        f"""\
version: 1
session: {session_name}
networks:
  web: {{}}
services:
  web:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    networks: [web]
    ports:
      - "80"
      - "127.0.0.1:{taken}:81"
"""
    )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "aifo", "apply", str(spec), "--yes"],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "AIFO_STATE_DIR": str(tmp_path / "state")},
            check=False,
        )
    finally:
        holder.close()
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert f"aifo.yaml:13:9: services.web.ports[1]: host port 127.0.0.1:{taken} (tcp) " in out, out
    assert f"hint: stop what listens on port {taken}" in out
    assert not re.search(r"[0-9a-f]{64}", out), out  # no daemon ids
    assert "rolled back: Docker is as it was" in out
    assert docker_state(session_name)["containers"] == {}
