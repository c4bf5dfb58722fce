"""Which engine adapter a command talks to.

The one place the engine choice is read: the global `--engine` (handed over by aifo.cli through
`select`, never through os.environ, which child processes and later in-process calls would
inherit), else `AIFO_ENGINE`, else `docker`; `podman` is the other.

Docker: the Engine API on the socket the docker CLI would use (`SocketEngine`, the hot
path), else the CLI alone (`DockerEngine`: tcp/ssh endpoints, named contexts). Podman: its
Docker-compatible API service (`PodmanEngine`), found or started on the first request. Swarm:
the manager's API socket (`SwarmEngine`, aifo.engine.swarm), each node's engine from
AIFO_SWARM_NODES.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from aifo.errors import UsageError

TYPE_CHECKING = False  # not typing's: `aifo exec`'s fast path does not load typing (mypy knows)
if TYPE_CHECKING:
    from aifo.engine.client import DockerEngine
    from aifo.engine.quickexec import QuickExec

ENGINES = ("docker", "podman", "swarm")

# `--engine` of the command line being run; aifo.cli sets it (or clears it) on every run.
_given: list[str] = []


def select(name: str | None) -> None:
    """The command line's `--engine` (None: not given); it wins over AIFO_ENGINE."""
    _given[:] = [name] if name else []


def engine_name(environ: Mapping[str, str] | None = None) -> str:
    """The selected engine; a name aifo does not know is a usage error (exit 2)."""
    env = os.environ if environ is None else environ
    name = (_given[0] if _given else env.get("AIFO_ENGINE") or "docker").strip().lower()
    if name not in ENGINES:
        raise UsageError(
            f"unknown engine {name!r} (from AIFO_ENGINE or --engine)",
            hint="use `docker`, `podman` or `swarm`",
        )
    return name


def connect(environ: Mapping[str, str] | None = None, *, timeout_s: float = 120.0) -> DockerEngine:
    """The adapter for this environment. Not pinged: the first real call reports an absent
    engine (EngineUnavailable, with the hint)."""
    env = os.environ if environ is None else environ
    name = engine_name(env)
    if name == "podman":
        from aifo.engine.podman import PodmanEngine, socket_path

        return PodmanEngine(socket_path(env), timeout_s=timeout_s)
    from aifo.engine.wire import socket_path as docker_socket

    path = docker_socket(env)
    if name == "swarm":
        return _swarm(path, env, timeout_s)
    if path is not None:
        from aifo.engine.socket_engine import SocketEngine

        return SocketEngine(path, timeout_s=timeout_s)
    from aifo.engine.client import DockerEngine

    return DockerEngine(timeout_s=timeout_s)


def _swarm(path: str | None, env: Mapping[str, str], timeout_s: float) -> DockerEngine:
    """The Swarm adapter, on the manager's unix socket (DOCKER_HOST or the current context)."""
    if path is None:
        raise UsageError(
            "the swarm engine needs the manager's Engine API on a unix socket "
            "(DOCKER_HOST=unix:///… or a Docker context on one)",
            hint="forward the manager's socket over ssh (`ssh -nNT -L /run/aifo/manager.sock:"
            "/var/run/docker.sock MANAGER`) and set DOCKER_HOST=unix:///run/aifo/manager.sock",
        )
    from aifo.engine.swarm.adapter import SwarmEngine

    # the Engine contract, without DockerEngine's CLI extras (doctor, image listing)
    return SwarmEngine(path, env, timeout_s=timeout_s)  # type: ignore[return-value]


def quick_exec(environ: Mapping[str, str] | None = None) -> QuickExec | None:
    """The exec-only adapter of `aifo exec`'s fast path: Docker on a unix socket; else None
    (Podman, Swarm, tcp/ssh endpoints, named contexts: `connect`'s adapter)."""
    env = os.environ if environ is None else environ
    if engine_name(env) != "docker":
        return None
    from aifo.engine.wire import socket_path

    path = socket_path(env)
    if path is None:
        return None
    from aifo.engine.quickexec import QuickExec

    return QuickExec(path)
