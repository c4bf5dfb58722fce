"""Fault injection at the nodes' own engines: a unix-socket proxy in front of each node's socket
(`AIFO_SWARM_NODES` then names the proxies), so every request aifo sends to a node, by whatever
path (the JSON wire, the streamed archive copies, the hijacked exec start), is seen, counted
and, once, answered with an HTTP 500 instead of being forwarded.

A request is known by its node, method and path with the ids taken out (`key`), and its
occurrence among requests of that key: the sweep names a fault as (key, occurrence), which
finds the same request in every run however many polls the waits make in between.
Test code only: nothing here is in the product.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

Key = tuple[str, str, str]  # node, method, path without ids
Fault = tuple[Key, int]  # a key and its occurrence (1-based)

_ID = re.compile(r"\b(?:[0-9a-f]{12,64}|[0-9a-z]{25})\b")  # engine ids; Swarm ids
_HELPER = re.compile(r"aifo-volume-helper-[0-9a-f]+")
_VERSION = re.compile(r"^/v\d+\.\d+")


def key_of(node: str, method: str, target: str) -> Key:
    path = _VERSION.sub("", target.split("?", 1)[0])
    return node, method, _ID.sub("<id>", _HELPER.sub("<helper>", path))


def _head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(1 << 16)
        if not chunk:
            return data
        data += chunk
    return data


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while chunk := src.recv(1 << 16):
            dst.sendall(chunk)
    except OSError:
        pass
    with suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


class NodeFaults:
    """Proxies for the nodes `upstream` (node name -> its engine's socket path) in `folder`."""

    def __init__(self, upstream: Mapping[str, str], folder: Path) -> None:
        self.upstream = dict(upstream)
        self.sockets = {node: str(folder / f"{node}.sock") for node in upstream}
        self.faults: frozenset[Fault] = frozenset()
        self.seen: list[Fault] = []  # every request, in arrival order
        self.injected: list[Fault] = []
        self._counts: Counter[Key] = Counter()
        self._lock = threading.Lock()
        self._listeners: list[socket.socket] = []

    @property
    def environ(self) -> str:
        return ",".join(f"{node}=unix://{path}" for node, path in self.sockets.items())

    def reset(self, *faults: Fault) -> None:
        """Count anew; fail each of `faults` once (none: forward everything)."""
        with self._lock:
            self.faults, self.seen, self.injected = frozenset(faults), [], []
            self._counts.clear()

    def start(self) -> None:
        for node, path in self.sockets.items():
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(path)
            os.chmod(path, 0o600)
            listener.listen(64)
            self._listeners.append(listener)
            threading.Thread(target=self._accept, args=(node, listener), daemon=True).start()

    def close(self) -> None:
        for listener in self._listeners:
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for path in self.sockets.values():
            with suppress(FileNotFoundError):
                os.unlink(path)

    def _accept(self, node: str, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(node, conn), daemon=True).start()

    def _count(self, node: str, method: str, target: str) -> bool:
        """Record the request; whether it is the one to fail."""
        key = key_of(node, method, target)
        with self._lock:
            self._counts[key] += 1
            fault = (key, self._counts[key])
            self.seen.append(fault)
            hit = fault in self.faults
            if hit:
                self.injected.append(fault)
        return hit

    def _serve(self, node: str, conn: socket.socket) -> None:
        """One connection: aifo's clients send one request per connection (Connection: close,
        or an exec's upgrade), so its first request line says what the connection is."""
        try:
            head = _head(conn)
            line = head.split(b"\r\n", 1)[0].decode(errors="replace").split(" ")
            if len(line) < 2:
                return
            method, target = line[0], line[1]
            if self._count(node, method, target):
                self._refuse(conn, head, f"{method} {target}")
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.upstream[node])
            upstream.sendall(head)
            back = threading.Thread(target=_pipe, args=(upstream, conn), daemon=True)
            back.start()
            _pipe(conn, upstream)
            back.join()
            upstream.close()
        except OSError:
            pass
        finally:
            conn.close()

    @staticmethod
    def _refuse(conn: socket.socket, head: bytes, what: str) -> None:
        """Read the request's body (the client is still sending it), then answer 500."""
        _, _, rest = head.partition(b"\r\n\r\n")
        found = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        left = (int(found.group(1)) if found else 0) - len(rest)
        while left > 0:
            chunk = conn.recv(min(left, 1 << 16))
            if not chunk:
                break
            left -= len(chunk)
        body = json.dumps({"message": f"injected node fault ({what})"}).encode()
        conn.sendall(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )


@contextmanager
def node_faults(upstream: Mapping[str, str], folder: Path) -> Iterator[NodeFaults]:
    proxy = NodeFaults(upstream, folder)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()


def upstream_of(environ: str) -> dict[str, str]:
    """`AIFO_SWARM_NODES`'s value as node -> socket path."""
    out: dict[str, str] = {}
    for entry in environ.split(","):
        node, _, endpoint = entry.partition("=")
        out[node] = endpoint.removeprefix("unix://")
    return out
