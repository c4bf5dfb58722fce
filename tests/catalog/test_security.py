"""aifo.plan.security / aifo.ui.security: the summary `aifo plan` ends with. Pure, table-driven."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rich.console import Console

from aifo.model import Container, EnvVar, Mount, Network, Port, Session
from aifo.plan.security import summarize
from aifo.ui.security import render_security, security_json


def _container(name: str, role: str = "agent", **kw: object) -> Container:
    base: dict[str, object] = {
        "name": name,
        "role": role,
        "docker_name": f"aifo-t-{name}",
        "image": "busybox",
        "user": "1000:1000",
        "cap_drop": ("ALL",),
    }
    base.update(kw)
    return Container(**base)  # type: ignore[arg-type]


def _session(*containers: Container) -> Session:
    return Session(
        name="t",
        networks=(
            Network(name="sandbox", docker_name="aifo-t-sandbox", internal=True),
            Network(name="egress", docker_name="aifo-t-egress"),
            Network(name="corp", docker_name="corp-net", external=True),
        ),
        containers=containers,
    )


def test_locked_down_container_has_no_risks() -> None:
    [item] = summarize(_session(_container("a", networks=("sandbox",))))
    assert item.container == "agent/a"
    assert not item.egress
    assert item.internal_networks == ("sandbox",)
    assert item.risks == ()
    assert not item.runs_as_root


@pytest.mark.parametrize(
    ("networks", "egress"),
    [
        ((), False),
        (("sandbox",), False),
        (("egress",), True),
        (("sandbox", "egress"), True),
        (("corp",), True),  # external: unknown routing, assume it reaches out
        (("undeclared",), True),  # fail closed on a name the session doesn't know
    ],
)
def test_egress_is_any_non_internal_network(networks: tuple[str, ...], egress: bool) -> None:
    [item] = summarize(_session(_container("a", networks=networks)))
    assert item.egress is egress


def test_writable_and_read_only_host_paths_are_split() -> None:
    mounts = (
        Mount(kind="bind", target="/workspace", source="/src/proj"),
        Mount(kind="bind", target="/home/aifo/.codex", source="/home/u/.codex", read_only=True),
        Mount(kind="volume", target="/cache", source="cargo"),
        Mount(kind="tmpfs", target="/tmp"),
    )
    [item] = summarize(_session(_container("a", mounts=mounts)))
    assert item.writable_host_paths == ("/src/proj",)
    assert item.read_only_host_paths == ("/home/u/.codex",)
    assert not item.docker_socket


def test_secrets_are_listed_by_name_only() -> None:
    env = (
        EnvVar(key="OPENAI_API_KEY", secret=True, from_host="OPENAI_API_KEY", digest="d1"),
        EnvVar(key="RUST_LOG", value="info"),
        EnvVar(key="TOKEN", secret=True, from_file="/x/token"),
    )
    session = _session(_container("a", env=env, networks=("egress",)))
    [item] = summarize(session)
    assert item.secrets == ("OPENAI_API_KEY", "TOKEN")
    assert "holds secrets and can reach outside networks" in item.risks
    dumped = json.dumps(security_json([item]))
    assert "d1" not in dumped and "/x/token" not in dumped


@pytest.mark.parametrize(
    ("kw", "risk"),
    [
        ({"privileged": True}, "privileged"),
        (
            {"mounts": (Mount(kind="bind", target="/s", source="/var/run/docker.sock"),)},
            "docker.sock",
        ),
        ({"mounts": (Mount(kind="bind", target="/s", source="/run/docker.sock"),)}, "docker.sock"),
        (
            {
                "mounts": (
                    Mount(kind="bind", target="/s", source="/home/u/.docker/run/docker.sock"),
                )
            },
            "docker.sock",
        ),
        ({"mounts": (Mount(kind="bind", target="/s", source="/var/run/"),)}, "docker.sock"),
        ({"cap_add": ("NET_ADMIN",)}, "adds capabilities: NET_ADMIN"),
        ({"cap_drop": ()}, "cap_drop is not ALL"),
        ({"no_new_privileges": False}, "no_new_privileges is off"),
    ],
)
def test_each_privilege_is_reported(kw: dict[str, Any], risk: str) -> None:
    [item] = summarize(_session(_container("a", **kw)))
    assert any(risk in r for r in item.risks), item.risks


@pytest.mark.parametrize(
    ("user", "root"), [(None, True), ("0:0", True), ("root", True), ("1000:1000", False)]
)
def test_root_user_detection(user: str | None, root: bool) -> None:
    [item] = summarize(_session(_container("a", user=user)))
    assert item.runs_as_root is root


def test_ports_and_order() -> None:
    session = _session(
        _container("z", role="toolchain"),
        _container("b", ports=(Port(container_port=80, host_port=8080),)),
    )
    items = summarize(session)
    assert [i.container for i in items] == ["agent/b", "toolchain/z"]
    assert items[0].published_ports == ("127.0.0.1:8080->80/tcp",)


def test_render_shows_every_container_and_warning() -> None:
    session = _session(
        _container("safe", networks=("sandbox",)),
        _container("risky", privileged=True, networks=("egress",)),
    )
    console = Console(record=True, width=200, color_system=None)
    render_security(console, summarize(session))
    out = console.export_text()
    assert "agent/safe" in out and "agent/risky" in out
    assert "internal only: sandbox" in out
    assert "warning: agent/risky: privileged" in out
    assert "warning: agent/safe" not in out


def test_render_empty_session() -> None:
    console = Console(record=True, width=120, color_system=None)
    render_security(console, [])
    assert "no containers" in console.export_text()


def _risky_session() -> Session:
    mounts = (Mount(kind="bind", target="/workspace", source="/a/very/long/path/" + "x" * 80),)
    return _session(
        _container(
            "risky",
            mounts=mounts,
            env=(EnvVar(key="TOKEN", secret=True, from_host="TOKEN", digest="d"),),
            cap_add=("NET_ADMIN",),
            networks=("egress",),
        )
    )


def test_render_on_a_terminal_is_a_table() -> None:
    console = Console(record=True, width=200, color_system=None, force_terminal=True)
    render_security(console, summarize(_risky_session()))
    out = console.export_text()
    assert "┃ container" in out and "Security summary" in out


def test_render_when_piped_is_plain_lines_that_never_wrap() -> None:
    console = Console(record=True, width=40, color_system=None, force_terminal=False)
    render_security(console, summarize(_risky_session()))
    lines = console.export_text().splitlines()
    assert lines == [
        "Security summary:",
        "  agent/risky",
        "    networks: egress: egress",
        "    egress: any (egress)",
        "    host: egress",
        "    writable host paths: /a/very/long/path/" + "x" * 80,
        "    secrets (names): TOKEN",
        "    privileges: +NET_ADMIN",
        "warning: agent/risky: adds capabilities: NET_ADMIN",
        "warning: agent/risky: holds secrets and can reach outside networks",
    ]


@pytest.mark.parametrize("width", [80, 100])
def test_on_a_narrow_terminal_nothing_is_cut(width: int) -> None:
    from aifo.plan.security import ContainerSecurity

    path = "/home/someone/projects/a-rather-long-repository-name/workspace"
    item = ContainerSecurity(
        container="agent/codex-with-a-long-name",
        egress_networks=(),
        internal_networks=("sandbox", "toolchains-net"),
        writable_host_paths=(path,),
        read_only_host_paths=(),
        secrets=("OPENAI_API_KEY", "ANTHROPIC_API_KEY_FOR_TESTS"),
        cap_add=("NET_ADMIN",),
        drops_all_caps=False,
        no_new_privileges=False,
        privileged=True,
        docker_socket=False,
        runs_as_root=True,
        published_ports=(),
        egress_allow=("api.openai.com", "api.anthropic.example.org"),
        egress_via="egress-proxy",
    )
    console = Console(record=True, width=width, color_system=None, force_terminal=True)
    render_security(console, [item])
    lines = console.export_text().splitlines()
    assert all(len(line) <= width for line in lines)
    assert "…" not in "".join(lines)
    words = {w for line in lines for w in line.split()}
    whole = ["api.openai.com", "api.anthropic.example.org", "OPENAI_API_KEY"]
    whole += ["ANTHROPIC_API_KEY_FOR_TESTS", "PRIVILEGED", "egress-proxy:", "toolchains-net"]
    assert [w for w in whole if w not in words] == []
    # a path longer than the room left folds onto the next line, whole
    assert path in "".join(line.strip() for line in lines)
