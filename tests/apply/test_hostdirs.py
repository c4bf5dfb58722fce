"""Bind sources declared `create: true`: compile lists them (outside the hash), apply makes them.

The real-engine story (an agent profile's config folder that doesn't exist yet) is in
tests/security/test_uid_docker.py.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from aifo.apply.hostdirs import make_host_dirs
from aifo.errors import AifoError
from tests.compile.helpers import session


def _spec(tmp: Path, create: bool) -> dict[str, Any]:
    mounts = [
        {"source": str(tmp / "cfg" / "agent"), "target": "/home/aifo/.agent", "create": create},
        {"source": str(tmp), "target": "/src", "read_only": True},
        {"tmpfs": "/scratch"},
    ]
    if not create:
        (tmp / "cfg" / "agent").mkdir(parents=True)
    return {
        "version": 1,
        "session": "demo",
        "agents": {"a": {"image": "busybox:latest", "workspace": False, "mounts": mounts}},
    }


def test_compile_lists_create_sources_without_hashing_the_flag(tmp_path: Path) -> None:
    [created] = session(tmp_path, _spec(tmp_path, create=True)).containers
    assert created.host_dirs == (str(tmp_path / "cfg" / "agent"),)
    [existing] = session(tmp_path, _spec(tmp_path, create=False)).containers
    assert existing.host_dirs == ()
    # Once the folder exists, dropping `create: true` changes nothing in Docker.
    assert created.config_hash == existing.config_hash


def test_make_host_dirs_creates_private_parents_and_is_idempotent(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    make_host_dirs([str(target)])
    make_host_dirs([str(target)])
    assert target.is_dir()
    assert stat.S_IMODE(target.stat().st_mode) & 0o077 == 0


def test_make_host_dirs_failure_is_an_aifo_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(AifoError, match=f"cannot create the bind source {blocker}/x"):
        make_host_dirs([str(blocker / "x")])
