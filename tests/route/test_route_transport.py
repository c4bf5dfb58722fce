"""The route transport's pure parts (issue 25): which transport an agent gets, compile's mount
for it, what each engine adapter says, and the control stream's framing. No engine."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from aifo.compile import compile_session
from aifo.errors import UsageError
from aifo.model import Container
from aifo.route.execroute import ExecTransport
from aifo.route.layout import ROUTE_TARGET, route_transport
from aifo.route.shim import MESSAGE_SIZE
from aifo.route.sidecar import _shared, route_folder, route_mount
from tests.compile.helpers import context, resolved
from tests.route.test_route_logic import SPEC


def _no() -> bool:
    raise AssertionError("the engine must not be asked when the variable decides")


@pytest.mark.parametrize(
    ("environ", "shares", "want"),
    [({}, True, "bind"), ({}, False, "exec"), ({"AIFO_ROUTE_TRANSPORT": "exec"}, None, "exec"),
     ({"AIFO_ROUTE_TRANSPORT": " Bind "}, None, "bind")],
)  # fmt: skip
def test_the_engine_decides_unless_the_variable_does(
    environ: dict[str, str], shares: bool | None, want: str
) -> None:
    ask = _no if shares is None else (lambda: shares)
    assert route_transport(environ, ask) == want


def test_an_unknown_transport_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="AIFO_ROUTE_TRANSPORT='tcp': use `exec` or `bind`"):
        route_transport({"AIFO_ROUTE_TRANSPORT": "tcp"}, lambda: True)


def test_the_workspace_volume_is_shared_with_the_sidecar_as_a_bind_is(tmp_path: Path) -> None:
    """Where binds do not reach (Swarm), the workspace is the session's volume: a routed
    command's folder maps through it, as through the bind."""
    ctx = context(route_root=str(tmp_path / "r"), route_exec=lambda: True, binds_reach=False)
    made = compile_session(resolved(tmp_path, SPEC), context=ctx)
    agent, rust = made.resources["agent/a"], made.resources["toolchain/rust"]
    assert isinstance(agent, Container) and isinstance(rust, Container)
    assert [m.kind for m in agent.mounts if m.target == "/workspace"] == ["volume"]
    assert _shared(agent, rust) == (("/workspace", "/workspace"),)
    other = replace(rust, mounts=tuple(replace(m, source="x") for m in rust.mounts))
    assert _shared(agent, other) == ()  # another volume is not shared


def _agent(tmp_path: Path, route_exec: bool, name: str = "a") -> Container:
    ctx = context(route_root=str(tmp_path / "route"), route_exec=lambda: route_exec)
    found = compile_session(resolved(tmp_path, SPEC), context=ctx).resources[f"agent/{name}"]
    assert isinstance(found, Container)
    return found


def test_the_exec_transport_gives_the_agent_a_tmpfs_and_binds_nothing(tmp_path: Path) -> None:
    bound, tmpfs = _agent(tmp_path, False), _agent(tmp_path, True)
    assert route_folder(bound) is not None and route_folder(tmpfs) is None
    mount = route_mount(tmpfs)
    assert mount is not None and mount.kind == "tmpfs" and mount.target == ROUTE_TARGET
    assert not [d for d in tmpfs.host_dirs if "route" in d]  # no host folder made for it
    assert bound.config_hash != tmpfs.config_hash  # switching transports recreates the agent
    assert route_mount(_agent(tmp_path, True, "c")) is None  # routes nothing: no route at all


def _transport(fd: int) -> ExecTransport:
    """An exec transport whose control stream is the pipe `fd` (no engine)."""
    route = ExecTransport.__new__(ExecTransport)
    os.set_blocking(fd, False)
    route.ctl_fd, route.buf = fd, bytearray()
    return route


def test_control_lines_are_framed_and_bounded() -> None:
    r, w = os.pipe()
    try:
        route = _transport(r)
        good = f"{'12.0':<{MESSAGE_SIZE - 1}}\n".encode()
        os.write(w, good + b"34.1\n" + b"x" * 200 + b"\n" + good[:10])
        # a line longer than a message is one malformed message; a partial one waits
        assert [m.strip() for m in route.messages()] == [b"12.0", b"34.1", b""]
        os.write(w, good[10:])
        assert [m.strip() for m in route.messages()] == [b"12.0"]
        assert list(route.messages()) == []  # nothing to read: nothing, no error
        os.write(w, b"y" * 100)  # no newline at all: dropped once it cannot be a message
        assert list(route.messages()) == [b""] and not route.buf
        os.close(w)
        w = -1
        with pytest.raises(EOFError):  # the control exec ended
            list(route.messages())
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
