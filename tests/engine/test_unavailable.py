"""No daemon, no CLI: EngineUnavailable with a hint, never a traceback."""

from __future__ import annotations

import pytest

from aifo.engine.api import Want
from aifo.engine.client import DockerEngine
from aifo.errors import EngineUnavailable


def test_no_daemon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    engine = DockerEngine()
    with pytest.raises(EngineUnavailable, match="ensure-docker"):
        engine.ping()
    with pytest.raises(EngineUnavailable):
        engine.observe("s", Want(containers=("a",), images=("x",)))
    with pytest.raises(EngineUnavailable):
        engine.inspect_containers(["a"])
    with pytest.raises(EngineUnavailable):
        engine.remove_containers(["a"])


def test_no_cli() -> None:
    engine = DockerEngine("/nonexistent/docker")
    with pytest.raises(EngineUnavailable, match="cannot run"):
        engine.ping()
    with pytest.raises(EngineUnavailable):
        engine.observe("s", Want())
    with pytest.raises(EngineUnavailable):
        engine.exec_capture("c", ["true"])
