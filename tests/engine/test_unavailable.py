"""No daemon, no CLI: EngineUnavailable with a hint, never a traceback."""

from __future__ import annotations

from pathlib import Path

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


def test_one_message_whichever_transport_met_it(tmp_path: Path) -> None:
    from aifo.engine.hints import from_cli, unreachable
    from aifo.engine.wire import Wire

    missing = tmp_path / "absent.sock"
    with pytest.raises(EngineUnavailable) as socket_side:
        Wire(str(missing)).request("GET", "/containers/json")
    cli_side = from_cli(f"Cannot connect to the Docker daemon at unix://{missing}. Is the d")
    assert str(socket_side.value) == str(cli_side)  # the same words, hint included
    assert "GET" not in str(cli_side) and "/containers" not in str(cli_side)
    tcp = from_cli("Cannot connect to the Docker daemon at tcp://10.0.0.9:2375. Is the docker")
    assert tcp.message == (
        "cannot reach the Docker engine at tcp://10.0.0.9:2375: "
        "the daemon does not answer (is it running?)"
    )
    import socket

    listening = socket.socket(socket.AF_UNIX)  # a socket that answers: the CLI's words count
    listening.bind(str(tmp_path / "ok.sock"))
    listening.listen()
    try:
        denied = from_cli(
            "permission denied while trying to connect to the Docker daemon socket at "
            f"unix://{tmp_path / 'ok.sock'}: Get ...: dial unix: connect: permission denied"
        )
    finally:
        listening.close()
    assert denied.message.endswith(": permission denied")
    assert denied.hint is not None and "docker` group" in denied.hint
    assert unreachable(None, "x").message == "cannot reach the Docker engine: x"
