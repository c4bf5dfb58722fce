"""`aifo exec`'s fast path on Docker (aifo.commands.fastexec): an exec attached to our own stdio
over the Engine API socket (aifo.engine.terminal), with nothing else of the adapter loaded. It is
the very exec SocketEngine.exec_start makes for that case. A signal to deliver (rare) loads the
full adapter for its `signal_marked`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aifo.engine import hijack, terminal
from aifo.engine.wire import Wire


class QuickExec:
    """The two calls aifo.signals.run makes, for a Docker engine on a unix socket."""

    def __init__(self, socket_path: str, *, timeout_s: float = 120.0) -> None:
        self.wire = Wire(socket_path, timeout_s=timeout_s)

    def exec_start(
        self,
        ref: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        tty: bool = False,
        interactive: bool = False,
        own_group: bool = False,
    ) -> hijack.ApiExecProcess:
        return terminal.attached(
            self.wire, ref, argv, user=user, workdir=workdir, env=dict(env or {}),
            tty=tty, interactive=interactive,
        )  # fmt: skip

    def signal_marked(self, ref: str, marker: str, signal: str, *, user: str | None = None) -> int:
        from aifo.engine.choose import connect

        return connect().signal_marked(ref, marker, signal, user=user)
