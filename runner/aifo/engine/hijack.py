"""`docker exec` with pipes over the Engine API socket: no CLI process per routed command.

Create the exec, start it on a connection the daemon upgrades to a raw stream (stdout and stderr
multiplexed in frames: 1 byte stream id, 3 zero bytes, a 4-byte big-endian length), and hand
the caller plain pipes, like a CLI process would: one thread splits the frames into the stdout
and stderr pipes (blocking writes: a reader that stalls back-pressures this exec only), one
copies the stdin pipe to the socket and half-closes it at end of input. The exit code is the
exec's, asked of the engine after the stream ends, when `poll` or `wait` wants it. Variable
values travel in the request body, never argv.
"""

from __future__ import annotations

import _thread
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

from aifo.engine.wire import Wire, ref
from aifo.errors import EngineError

TYPE_CHECKING = False  # not typing's: `aifo exec`'s fast path does not load typing (mypy knows)
if TYPE_CHECKING:
    from typing import IO


class ApiExecProcess:
    """The same surface as aifo.engine.process.ExecProcess, over one hijacked connection."""

    def __init__(
        self,
        wire: Wire,
        exec_id: str,
        sock: socket.socket,
        rest: bytes,
        *,
        tty: bool,
        stdio: bool = False,
        interactive: bool = True,
    ) -> None:
        """Pipes for the caller, or (`stdio`) our own fds 0/1/2 wired straight to the exec."""
        self.wire, self.exec_id, self.sock, self.tty = wire, exec_id, sock, tty
        self.stdout: IO[bytes] | None = None
        self.stderr: IO[bytes] | None = None
        self.stdin: IO[bytes] | None = None
        self._owned = not stdio  # our fds 0/1/2 are never closed here
        if stdio:
            out_w, err_w, in_r = 1, 2, (0 if interactive else None)
        else:
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            in_r, in_w = os.pipe2(os.O_CLOEXEC)
            self.stdout = os.fdopen(out_r, "rb", buffering=0)
            self.stderr = os.fdopen(err_r, "rb", buffering=0)
            self.stdin = os.fdopen(in_w, "wb", buffering=0)
        self.returncode: int | None = None
        self.reader_gone = False  # (stdio) whoever read our stdout or stderr closed it
        self.done = threading.Event()
        self.on_done: list[Callable[[], None]] = []  # run as the stream ends, before `done`
        self._pending: tuple[bytes, int, int] | None = (rest, out_w, err_w)
        if not stdio:  # the caller reads the pipes while the process runs
            self._drive()
        if in_r is not None:
            # Not threading.Thread: its start() waits for the thread to be scheduled, a
            # context switch that costs tens of ms on a loaded machine. Daemonic either way.
            _thread.start_new_thread(self._feed, (in_r,))

    def _drive(self, inline: bool = False) -> None:
        """Split the stream: on a thread of its own, or (`inline`, stdio) in the caller's wait:
        no thread to start for a short exec. Signal handlers still run between reads."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        if inline:
            self._demux(*pending)
        else:
            threading.Thread(target=self._demux, args=pending, daemon=True).start()

    def _demux(self, data: bytes, out_w: int, err_w: int) -> None:
        buf = bytearray(data)
        fds = {1: out_w, 2: err_w}
        broken = False
        try:
            while True:
                if self.tty:  # a terminal's stream is raw: one stream, no frames
                    broken = not _write_all(out_w, bytes(buf))
                    buf.clear()
                for stream, payload in () if self.tty else _frames(buf):
                    broken = not _write_all(fds.get(stream, out_w), payload) or broken
                if broken and not self._owned:
                    break  # our reader went (`aifo exec … | head`): as the CLI would, stop
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    break
                buf += chunk
        except OSError:
            pass
        finally:
            if self._owned:
                os.close(out_w)
                os.close(err_w)
            if broken and not self._owned:
                # Reported like a shell's pipeline: 128 + SIGPIPE. The daemon keeps draining the
                # process's output, so the caller delivers the SIGPIPE (aifo.attach.signals).
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self.returncode = 141
                self.reader_gone = True
            for hook in self.on_done:
                hook()
            self.done.set()

    def _feed(self, in_r: int) -> None:
        try:
            while True:
                data = os.read(in_r, 1 << 16)
                if not data:
                    break
                self.sock.sendall(data)
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            if self._owned:
                os.close(in_r)

    def _code(self) -> int:
        """The exit code, asked of the engine once, and only when someone wants it: the
        route's helper execs in an agent never do (one round trip less each)."""
        if self.returncode is None:
            self.returncode = exit_code(self.wire, self.exec_id)
        return self.returncode

    def poll(self) -> int | None:
        return self._code() if self.done.is_set() else None

    def wait(self, timeout: float | None = None) -> int | None:
        self._drive(inline=timeout is None)
        return self._code() if self.done.wait(timeout) else None

    def kill(self) -> None:
        """Drop the connection (the process itself is signalled by marker, by the caller)."""
        if not self.done.is_set():
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._drive(inline=True)  # never driven (stdio): ends at once on the closed socket
            self.done.wait(15)
        self.sock.close()


def _frames(buf: bytearray) -> Iterator[tuple[int, bytes]]:
    """The complete frames at the start of `buf` as (stream id, payload), each taken out of
    `buf` as it is yielded; a partial frame stays for the next read."""
    while len(buf) >= 8:
        size = int.from_bytes(buf[4:8], "big")
        if len(buf) < 8 + size:
            return
        stream, payload = buf[0], bytes(buf[8 : 8 + size])
        del buf[: 8 + size]
        yield stream, payload


def _write_all(fd: int, data: bytes) -> bool:
    """False when nobody reads `fd` any more (the data is dropped)."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BrokenPipeError:
            return False
    return True


def _open(
    wire: Wire,
    container: str,
    argv: Sequence[str],
    *,
    user: str | None,
    workdir: str | None,
    env: Mapping[str, str],
    tty: bool,
    interactive: bool,
) -> tuple[str, socket.socket, bytes]:
    """Create the exec and start it on a connection the daemon upgrades: (exec id, the raw
    stream's socket, what was read past the upgrade's headers)."""
    spec = {
        "AttachStdin": interactive, "AttachStdout": True, "AttachStderr": True, "Tty": tty,
        "Cmd": list(argv), "Env": [f"{k}={v}" for k, v in sorted(env.items())],
        "User": user or "", "WorkingDir": workdir or "",
    }  # fmt: skip
    created = wire.call(
        "POST", f"/containers/{ref(container)}/exec", op="exec in", obj=container, body=spec,
        redact=list(env.values()),
    )  # fmt: skip
    exec_id = str(created["Id"])
    body = json.dumps({"Detach": False, "Tty": tty}).encode()
    head = (
        f"POST {wire.prefix}/exec/{exec_id}/start HTTP/1.1\r\nHost: docker\r\n"
        "Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(wire.path)
        sock.sendall(head.encode() + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise EngineError(f"exec in {container}: the engine closed the connection")
            data += chunk
            if len(data) > 1 << 16:
                raise EngineError(f"exec in {container}: unreadable answer from the engine")
    except OSError as exc:
        sock.close()
        raise EngineError(f"exec in {container}: {exc.strerror or exc}") from exc
    except EngineError:
        sock.close()
        raise
    header, _, rest = data.partition(b"\r\n\r\n")
    status = header.split(b" ", 2)[1] if header.count(b" ") >= 1 else b"0"
    if status not in (b"101", b"200"):
        try:
            reason = _refusal(sock, header, rest)
        finally:
            sock.close()
        from aifo.engine.translate import translate

        raise translate("exec in", container, int(status or 0), reason)
    return exec_id, sock, rest


def _refusal(sock: socket.socket, header: bytes, rest: bytes) -> str:
    """The daemon's reason for refusing an exec's start (`{"message": …}` in the body, as the
    CLI prints it), else the status line; its body read up to its length (at most 64 KiB)."""
    from aifo.engine.wire import parse_response

    lines = header.split(b"\r\n")
    fields = dict(line.partition(b":")[::2] for line in lines[1:])
    length = next((v.strip() for k, v in fields.items() if k.strip().lower() == b"content-length"),
                  b"")  # fmt: skip
    want = min(int(length), 1 << 16) if length.isdigit() else 0
    try:
        while len(rest) < want:
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            rest += chunk
    except OSError:
        pass
    reply = parse_response(header + b"\r\n\r\n" + rest[:want])
    return reply.message() if reply.body else lines[0].decode(errors="replace")


def start(
    wire: Wire,
    container: str,
    argv: Sequence[str],
    *,
    user: str | None,
    workdir: str | None,
    env: Mapping[str, str],
    size: tuple[int, int] | None = None,
    stdio: bool = False,
    interactive: bool = True,
) -> ApiExecProcess:
    """Create and start an exec attached to pipes, or (`stdio`) to our own stdin/stdout/stderr
    (stdin only when `interactive`); with `size` (rows, columns) it gets a terminal.
    EngineError when the daemon refuses (NotFound: no such container; Conflict: not running)."""
    tty = size is not None
    exec_id, sock, rest = _open(
        wire, container, argv, user=user, workdir=workdir, env=env, tty=tty,
        interactive=interactive,
    )  # fmt: skip
    process = ApiExecProcess(
        wire, exec_id, sock, rest, tty=tty, stdio=stdio, interactive=interactive
    )
    if size is not None:  # races the process's start: callers that care set it inside too
        query = {"h": size[0], "w": size[1]}
        try:
            wire.request("POST", f"/exec/{exec_id}/resize", query=query, timeout_s=10)
        except EngineError:
            pass
    return process


CAPTURE_LIMIT = 1 << 20  # the last MiB of a captured exec's output is kept


def keep_tail(out: bytearray) -> None:
    """Cut a captured exec's output to its last CAPTURE_LIMIT bytes (both adapters)."""
    if len(out) > CAPTURE_LIMIT:
        del out[: len(out) - CAPTURE_LIMIT]


def capture(
    wire: Wire,
    container: str,
    argv: Sequence[str],
    *,
    user: str | None,
    workdir: str | None,
    env: Mapping[str, str],
    timeout_s: float | None,
) -> tuple[int, bytes]:
    """Run `argv` without stdin or terminal: (its exit code, its stdout and stderr as one output
    in the order they were written, the last CAPTURE_LIMIT bytes). EngineError when it has not
    ended within `timeout_s` (the process is left running: signal it by marker)."""
    exec_id, sock, rest = _open(
        wire, container, argv, user=user, workdir=workdir, env=env, tty=False, interactive=False
    )
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    buf, out = bytearray(rest), bytearray()
    try:
        while True:
            for _stream, payload in _frames(buf):
                out += payload
            keep_tail(out)
            if deadline is not None:
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            buf += chunk
    except TimeoutError as exc:
        raise EngineError(f"exec in {container}: no exit within {timeout_s:g} s") from exc
    except OSError as exc:
        raise EngineError(f"exec in {container}: {exc.strerror or exc}") from exc
    finally:
        sock.close()
    code = exit_status(wire, exec_id)
    if not isinstance(code, int):
        raise EngineError(f"exec in {container}: its exit code cannot be read: {code}")
    return code, bytes(out)


def exit_code(wire: Wire, exec_id: str) -> int:
    """An ended exec's exit code (1 when it cannot be read)."""
    code = exit_status(wire, exec_id)
    return code if isinstance(code, int) else 1


def exit_status(wire: Wire, exec_id: str) -> int | str:
    """An ended exec's exit code, or why it cannot be read (a captured exec's caller must not
    take an unknown code for a failure of the command: a verification says which it was). The
    stream can end a moment before the daemon marks the exec done: it is asked again for up
    to 10 s."""
    deadline = time.monotonic() + 10
    while True:
        try:
            reply = wire.request("GET", f"/exec/{exec_id}/json", timeout_s=10)
        except EngineError as err:
            return err.message
        data = reply.json() if reply.ok else None
        if not isinstance(data, dict):
            return reply.message() if not reply.ok else "the engine's answer is not an exec"
        if not data.get("Running") or time.monotonic() > deadline:
            code = data.get("ExitCode")
            return code if isinstance(code, int) else "the engine gave no exit code"
        time.sleep(0.005)
