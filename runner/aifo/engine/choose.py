"""Which engine adapter a command talks to: the Engine API on the socket the docker CLI would use
(the hot path, `SocketEngine`), else the CLI alone (`DockerEngine`: tcp/ssh endpoints, contexts).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aifo.engine.client import DockerEngine


def connect(environ: Mapping[str, str] | None = None, *, timeout_s: float = 120.0) -> DockerEngine:
    """The adapter for this environment. Not pinged: the first real call reports an absent
    engine (EngineUnavailable, with the hint)."""
    from aifo.engine.wire import socket_path

    env = os.environ if environ is None else environ
    path = socket_path(env)
    if path is not None:
        from aifo.engine.socket_engine import SocketEngine

        return SocketEngine(path, timeout_s=timeout_s)
    from aifo.engine.client import DockerEngine

    return DockerEngine(timeout_s=timeout_s)
