"""`aifo exec`'s fast path on Docker (aifo.commands.fastexec): the exec part of the adapter
(aifo.engine.socket_exec: attached to our stdio, at a terminal or not, and signals by marker)
over the Engine API socket, with nothing else of the adapter loaded.
"""

from __future__ import annotations

from aifo.engine.socket_exec import SocketExec
from aifo.engine.wire import Wire


class QuickExec(SocketExec):
    """SocketEngine's exec calls, for a Docker engine on a unix socket."""

    def __init__(self, socket_path: str, *, timeout_s: float = 120.0) -> None:
        self.wire = Wire(socket_path, timeout_s=timeout_s)
