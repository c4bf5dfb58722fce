"""Exec over the Engine API socket (part of `SocketEngine`): attached to our stdio (at a terminal
or not), piped for the caller (routed commands), or captured (hooks, signals by marker); no
`docker` process for any of them. Light at import (`aifo exec`'s quick way uses it on its own:
aifo.engine.quickexec)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aifo.engine.wire import Wire
from aifo.errors import EngineError, NotFound

TYPE_CHECKING = False  # not typing's: `aifo exec`'s fast path does not load typing (mypy knows)
if TYPE_CHECKING:
    from aifo.engine.process import ExecProcess


class SocketExec:
    """Run commands in containers over `self.wire`."""

    wire: Wire

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
        pipes: bool = False,
        own_group: bool = False,
        size: tuple[int, int] | None = None,
    ) -> ExecProcess:
        """Over the socket, no CLI process: piped execs (routed commands), and execs attached to
        our own stdio (`aifo exec/run/shell`): at our terminal (aifo.engine.terminal: raw mode,
        its size), or without one (stdout and stderr stay apart)."""
        if not pipes:
            from aifo.engine import terminal

            return terminal.attached(
                self.wire, ref, argv, user=user, workdir=workdir, env=dict(env or {}),
                tty=tty, interactive=interactive,
            )  # fmt: skip
        from aifo.engine import hijack

        return hijack.start(
            self.wire, ref, argv, user=user, workdir=workdir, env=dict(env or {}),
            size=(size or (24, 80)) if tty else None,
        )  # fmt: skip

    def exec_capture(
        self,
        ref: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> tuple[int, str]:
        """Over the socket (hooks, signals): no `docker` process. A missing container raises
        NotFound, a stopped one EngineError, as through the CLI."""
        from aifo.engine import hijack

        try:
            code, out = hijack.capture(
                self.wire, ref, argv, user=user, workdir=workdir, env=dict(env or {}),
                timeout_s=timeout_s,
            )  # fmt: skip
        except NotFound:
            raise
        except EngineError as err:
            raise EngineError(err.message) from err
        return code, out.decode(errors="replace")

    def signal_marked(
        self,
        ref: str,
        marker: str,
        signal: str,
        *,
        user: str | None = None,
        timeout_s: float = 30,
        family: bool = False,
    ) -> int:
        """One captured exec of the signalling script (aifo.engine.process); 0 when the
        container is gone or the script could not run."""
        from aifo.engine.process import signal_argv

        argv = signal_argv(marker, signal, family=family)
        try:
            code, text = self.exec_capture(ref, argv, user=user, timeout_s=timeout_s)
        except EngineError:
            return 0
        text = text.strip()
        return int(text) if code == 0 and text.isdigit() else 0
