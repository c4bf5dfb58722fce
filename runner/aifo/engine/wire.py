"""The Engine API over a unix socket: one HTTP/1.1 request per call, JSON in and out.

Deliberately not `http.client` (importing it costs ~20 ms here: ssl, email) nor a client library:
the no-op apply's whole budget is ~0.15 s. Each request opens its own connection with
`Connection: close` (a unix connect costs microseconds), so calls from several threads never
share a socket. Docker's and Podman's API servers (Go net/http) answer with a Content-Length or
a chunked body; both are read here. Failures become typed errors by the same rule table as the
CLI's stderr (`aifo.engine.translate`): the daemon's `{"message": …}` is what the CLI prints.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence

from aifo.errors import EngineError

TYPE_CHECKING = False  # not typing's: `aifo exec`'s fast path does not load typing (mypy knows)
if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")
    R = TypeVar("R")

# Light on purpose (no dataclasses, urllib or regular expressions until needed): `aifo exec`'s
# fast path (aifo.commands.fastexec) loads this module, and its budget is a few milliseconds.
DEFAULT_SOCKET = "/var/run/docker.sock"
API_VERSION = "v1.41"  # Docker 20.10; Podman 4 serves it too
MUTATING = frozenset({"POST", "PUT", "DELETE"})
_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


class Reply:
    """One answer: its HTTP status and body."""

    __slots__ = ("status", "body")

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reply) and (self.status, self.body) == (other.status, other.body)

    def __hash__(self) -> int:
        return hash((self.status, self.body))

    def __repr__(self) -> str:
        return f"Reply(status={self.status!r}, body={self.body!r})"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 or self.status == 304

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def message(self) -> str:
        """The daemon's reason (`{"message": …}`), else the body's text."""
        data = self.json()
        if isinstance(data, dict) and data.get("message"):
            return str(data["message"])
        return self.body.decode(errors="replace").strip() or f"HTTP {self.status}"


def socket_path(environ: Mapping[str, str]) -> str | None:
    """The unix socket the docker CLI would talk to, or None when it talks to something else
    (tcp, ssh, a named context): the CLI is then used for everything."""
    host = environ.get("DOCKER_HOST", "")
    if host:
        return host[len("unix://") :] if host.startswith("unix://") else None
    if environ.get("DOCKER_CONTEXT", "default") != "default":
        return None
    config = os.path.join(
        environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker"), "config.json"
    )
    try:
        with open(config, encoding="utf-8") as fh:
            current = json.load(fh).get("currentContext")
    except (OSError, ValueError, AttributeError):
        current = None
    return DEFAULT_SOCKET if current in (None, "", "default") else None


def _read_chunked(data: bytes) -> bytes:
    out = bytearray()
    pos = 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            break
        size = int(data[pos:end].split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[end + 2 : end + 2 + size]
        pos = end + 2 + size + 2
    return bytes(out)


def parse_response(raw: bytes) -> Reply:
    """Status line, headers, then a Content-Length, chunked or read-to-close body."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("incomplete HTTP response")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        key, _, value = line.partition(b":")
        headers[key.strip().lower()] = value.strip()
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        return Reply(status, _read_chunked(rest))
    length = headers.get(b"content-length")
    return Reply(status, rest[: int(length)] if length is not None else rest)


class Wire:
    """Requests to one engine socket; `requests` counts them (thread-safe), like the CLI runner's
    `calls`, so tests and benchmarks can assert round trips."""

    def __init__(self, path: str, *, timeout_s: float = 120.0, version: str = API_VERSION) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self.prefix = f"/{version}" if version else ""
        self.requests = 0
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        timeout_s: float | None = None,
    ) -> Reply:
        """Send one request, return the reply whatever its status. An unreachable socket raises
        EngineUnavailable; a timeout EngineError."""
        with self._lock:
            self.requests += 1
        target = self.prefix + path + (f"?{_query(query)}" if query else "")
        payload = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {target} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        timeout = self.timeout_s if timeout_s is None else timeout_s
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            try:
                sock.connect(self.path)
            except OSError as exc:
                from aifo.engine.hints import socket_reason, unreachable

                raise unreachable(f"unix://{self.path}", socket_reason(exc)) from exc
            sock.sendall(head.encode() + payload)
            chunks: list[bytes] = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except TimeoutError as exc:
            raise EngineError(
                f"{method} {path}: the engine did not answer within {timeout:g} s"
            ) from exc
        except OSError as exc:
            raise EngineError(f"{method} {path}: {exc.strerror or exc}") from exc
        finally:
            sock.close()
        try:
            return parse_response(b"".join(chunks))
        except (ValueError, IndexError) as exc:
            raise EngineError(f"{method} {path}: unreadable answer from the engine") from exc

    def call(
        self,
        method: str,
        path: str,
        *,
        op: str,
        obj: str,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        timeout_s: float | None = None,
        redact: Iterable[str] = (),
        image_is_object: bool = False,
    ) -> Any:
        """Send one request; return the decoded JSON, or raise the translated error."""
        reply = self.request(method, path, query=query, body=body, timeout_s=timeout_s)
        if not reply.ok:
            from aifo.engine.translate import translate

            raise translate(
                op,
                obj,
                reply.status,
                reply.message(),
                redact=redact,
                image_is_object=image_is_object,
            )
        return reply.json()


def ref(value: str) -> str:
    """A name or id as one path segment."""
    if value and _PLAIN.issuperset(value):
        return value  # ids and most names: nothing to quote
    from urllib.parse import quote

    return quote(value, safe="")


def _query(query: Mapping[str, Any]) -> str:
    from urllib.parse import urlencode

    return urlencode(query)


def each(fn: Callable[[T], R], items: Sequence[T], *, width: int = 8) -> list[R | BaseException]:
    """`fn` over `items` on up to `width` threads; results (or the exception raised) in order."""
    out: list[R | BaseException] = [RuntimeError("not run")] * len(items)
    if len(items) <= 1:
        width = 1
    todo = iter(range(len(items)))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            try:
                out[i] = fn(items[i])
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, in order
                out[i] = exc

    if width == 1:
        work()
        return out
    threads = [threading.Thread(target=work, daemon=True) for _ in range(min(width, len(items)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out
