"""The socket client's pure parts: response parsing, endpoint resolution, `each`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aifo.engine.wire import DEFAULT_SOCKET, Reply, each, parse_response, socket_path
from aifo.errors import EngineUnavailable


def test_content_length_body() -> None:
    raw = b'HTTP/1.1 201 Created\r\nContent-Length: 9\r\n\r\n{"Id":"x"}trailing'
    reply = parse_response(raw)
    assert reply.status == 201 and reply.body == b'{"Id":"x"'


def test_chunked_body() -> None:
    raw = b'HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"mes\r\n' + (
        b'13\r\nsage":"No such x"}\n\r\n0\r\n\r\n'
    )
    reply = parse_response(raw)
    assert reply.status == 404 and not reply.ok
    assert reply.message() == "No such x"


def test_read_to_close_and_304() -> None:
    reply = parse_response(b"HTTP/1.1 304 Not Modified\r\nServer: x\r\n\r\n")
    assert reply.ok and reply.body == b"" and reply.json() is None


def test_incomplete_response_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_response(b"HTTP/1.1 200 OK\r\nContent-")


def test_message_falls_back_to_text() -> None:
    assert Reply(500, b"plain failure\n").message() == "plain failure"
    assert Reply(500, b"").message() == "HTTP 500"


def test_socket_path(tmp_path: Path) -> None:
    assert socket_path({"DOCKER_HOST": "unix:///run/x.sock"}) == "/run/x.sock"
    assert socket_path({"DOCKER_HOST": "tcp://127.0.0.1:2375"}) is None
    assert socket_path({"DOCKER_CONTEXT": "remote"}) is None
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"currentContext": "remote"}))
    assert socket_path({"DOCKER_CONFIG": str(tmp_path)}) is None
    config.write_text(json.dumps({}))
    assert socket_path({"DOCKER_CONFIG": str(tmp_path)}) == DEFAULT_SOCKET


def test_unreachable_socket_is_engine_unavailable(tmp_path: Path) -> None:
    from aifo.engine.wire import Wire

    with pytest.raises(EngineUnavailable, match="cannot reach the Docker engine at unix://") as err:
        Wire(str(tmp_path / "absent.sock")).request("GET", "/_ping")
    assert err.value.hint


def test_each_keeps_order_and_hands_back_exceptions() -> None:
    def fn(x: int) -> int:
        if x == 3:
            raise KeyError(x)
        return x * 2

    out = each(fn, list(range(6)), width=4)
    assert out[:3] == [0, 2, 4] and isinstance(out[3], KeyError) and out[4:] == [8, 10]
    assert each(fn, []) == []
