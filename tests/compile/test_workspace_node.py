"""The workspace where host binds cannot reach (compile/workspace): a seeded volume, and every
other bind refused, located, before apply (issue 25)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from aifo.compile import compile_session
from aifo.compile.workspace import WORKSPACE_VOLUME
from aifo.errors import SpecError
from aifo.model import Mount, Session
from tests.compile.helpers import context, resolved

SPEC: dict[str, Any] = {
    "version": 1,
    "session": "ws",
    "agents": {"a": {"image": "busybox:latest"}},
    "services": {"db": {"image": "busybox:latest"}},
}


def _compile(tmp: Path, spec: dict[str, Any], *, reach: bool) -> Session:
    return compile_session(resolved(tmp, spec), context=context(binds_reach=reach))


def test_on_this_machine_the_workspace_is_a_bind(tmp_path: Path) -> None:
    s = _compile(tmp_path, SPEC, reach=True)
    (agent,) = [c for c in s.containers if c.name == "a"]
    assert Mount("bind", "/workspace", str(tmp_path)) in agent.mounts
    assert not s.volumes


def test_elsewhere_the_workspace_is_a_volume_seeded_from_it(tmp_path: Path) -> None:
    s = _compile(tmp_path, SPEC, reach=False)
    (agent,) = [c for c in s.containers if c.name == "a"]
    assert Mount("volume", "/workspace", WORKSPACE_VOLUME) in agent.mounts
    assert not [m for m in agent.mounts if m.kind == "bind"]
    (volume,) = s.volumes
    assert (volume.name, volume.docker_name, volume.seed) == (
        WORKSPACE_VOLUME, f"aifo-ws-{WORKSPACE_VOLUME}", str(tmp_path),
    )  # fmt: skip
    (db,) = [c for c in s.containers if c.name == "db"]
    assert not [m for m in db.mounts if m.source == WORKSPACE_VOLUME]  # services: none
    # the container depends on the volume, so apply creates (and fills) it first
    from aifo.model.graph import edges

    assert (agent.id, volume.id) in [(e.source, e.target) for e in edges(s)]


def test_the_seed_is_not_hashed(tmp_path: Path) -> None:
    """A workspace moved elsewhere must not replace the volume holding the agent's work."""
    a = _compile(tmp_path, SPEC, reach=False).volumes[0]
    other = tmp_path / "other"
    other.mkdir()
    moved = dict(SPEC, workspace={"path": str(other)})
    b = _compile(tmp_path, moved, reach=False).volumes[0]
    assert a.seed != b.seed and a.config_hash == b.config_hash


def test_other_binds_are_refused_located_before_apply(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    spec = yaml.safe_load(yaml.safe_dump(SPEC))
    spec["agents"]["a"]["mounts"] = [
        {"volume": "cache", "target": "/cache"},
        {"source": "./data", "target": "/data"},
    ]
    spec["volumes"] = {"cache": {}}
    with pytest.raises(SpecError) as caught:
        _compile(tmp_path, spec, reach=False)
    (issue,) = caught.value.issues
    assert issue.path == "agents.a.mounts[1].source"
    assert issue.location is not None and issue.location.line > 0
    assert str(tmp_path / "data") in issue.message and "not this machine" in issue.message
    assert issue.hint and "volume" in issue.hint
    # the same spec compiles where binds reach
    assert _compile(tmp_path, spec, reach=True)
