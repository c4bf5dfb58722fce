"""No daemon, no CLI: EngineUnavailable with a hint, never a traceback."""

from __future__ import annotations

import pytest

from aifo.engine.api import Want
from aifo.engine.client import DockerEngine
from aifo.engine.hints import install_engine, start_engine
from aifo.errors import EngineUnavailable


def test_no_daemon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    engine = DockerEngine()
    with pytest.raises(EngineUnavailable) as info:
        engine.ping()
    assert info.value.hint is not None and info.value.hint.startswith(start_engine())
    assert "scripts/" not in str(info.value)  # a wheel user has no repository scripts
    with pytest.raises(EngineUnavailable):
        engine.observe("s", Want(containers=("a",), images=("x",)))
    with pytest.raises(EngineUnavailable):
        engine.inspect_containers(["a"])
    with pytest.raises(EngineUnavailable):
        engine.remove_containers(["a"])


def test_no_cli() -> None:
    engine = DockerEngine("/nonexistent/docker")
    with pytest.raises(EngineUnavailable, match="command was not found") as info:
        engine.ping()
    assert info.value.hint is not None and install_engine() in info.value.hint
    with pytest.raises(EngineUnavailable) as batch:
        engine.observe("s", Want())
    assert "''" not in str(batch.value) and " :" not in str(batch.value)  # no blank names
    with pytest.raises(EngineUnavailable):
        engine.exec_capture("c", ["true"])


def test_start_hint_names_this_os_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setattr(sys, "platform", "darwin")
    assert "Docker Desktop" in start_engine()
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock")
    assert "systemctl --user start docker" in start_engine()
    monkeypatch.delenv("DOCKER_HOST")
    assert "`" in start_engine() and "docker" in start_engine()  # a command to run
