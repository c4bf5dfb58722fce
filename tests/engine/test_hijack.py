"""hijack.ApiExecProcess's exit code: asked of the engine only when someone wants it (pure: a
fake wire and a socket pair stand in for the engine)."""

from __future__ import annotations

import socket
from typing import Any

from aifo.engine.hijack import ApiExecProcess
from aifo.engine.wire import Reply


class AskedWire:
    """Answers every exec inspect with exit code 7 and remembers what was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def request(self, method: str, path: str, **_kw: Any) -> Reply:
        self.asked.append(f"{method} {path}")
        return Reply(200, b'{"Running": false, "ExitCode": 7}')


def test_the_exit_code_is_asked_for_once_and_only_when_wanted() -> None:
    ours, engine_side = socket.socketpair()
    wire = AskedWire()
    frame = b"\x01\x00\x00\x00" + (2).to_bytes(4, "big") + b"hi"
    proc = ApiExecProcess(wire, "abc", ours, frame, tty=False)  # type: ignore[arg-type]
    engine_side.close()  # the stream ends
    assert proc.stdout is not None and proc.stdout.read() == b"hi"
    assert proc.done.wait(5)
    assert wire.asked == []  # a helper exec whose code nobody wants costs no round trip
    assert proc.poll() == 7 and proc.wait() == 7
    assert wire.asked == ["GET /exec/abc/json"]  # once, then remembered
    proc.kill()
