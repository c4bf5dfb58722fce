"""The security summary's reach: the host, and what an agent reaches through its routes (issue 22
#12, #13). A routed `sh` in a toolchain runs with the toolchain's networks, so an agent's reach is
the union of its own and its toolchains'. Pure."""

from __future__ import annotations

import json
from typing import Literal

from rich.console import Console

from aifo.model import Container, Egress, Network, Session
from aifo.plan.security import summarize
from aifo.ui.security import render_security, security_json

NETWORKS = (
    Network(name="sandbox", docker_name="aifo-t-sandbox", internal=True),
    Network(name="open", docker_name="aifo-t-open", internal=True, host_reach=True),
    Network(name="front", docker_name="aifo-t-front"),
)


def _c(
    name: str,
    role: Literal["agent", "toolchain", "service"],
    networks: tuple[str, ...],
    **kw: object,
) -> Container:
    return Container(
        name=name, role=role, docker_name=f"aifo-t-{name}", image="busybox", user="1000:1000",
        cap_drop=("ALL",), networks=networks, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def _summary(*containers: Container) -> dict[str, object]:
    return {
        s.container: s for s in summarize(Session("t", networks=NETWORKS, containers=containers))
    }


def _lines(*containers: Container) -> list[str]:
    console = Console(record=True, width=300, color_system=None, force_terminal=False)
    render_security(console, summarize(Session("t", networks=NETWORKS, containers=containers)))
    return console.export_text().splitlines()


def test_an_agent_routing_to_a_bridged_toolchain_reaches_what_it_reaches() -> None:
    """The report: `egress: none` for an agent whose routed `sh` reached the host."""
    agent = _c("a", "agent", ("sandbox",), toolchains=("toolchain/sh",),
               routes=(("sh", "toolchain/sh"),))  # fmt: skip
    tool = _c("sh", "toolchain", ("sandbox", "front"), tools=("sh",))
    lines = _lines(agent, tool)
    at = lines.index("  agent/a")
    assert lines[at + 2] == "    egress: any (front via toolchain/sh)"
    assert lines[at + 3] == "    host: front via toolchain/sh"
    assert (
        "warning: agent/a: its routed commands reach outside networks: front via toolchain/sh"
        in lines
    )
    item = _summary(agent, tool)["agent/a"]
    assert item.egress and item.routes_to == ("toolchain/sh",)  # type: ignore[attr-defined]


def test_an_agent_whose_toolchains_are_internal_stays_at_none() -> None:
    agent = _c("a", "agent", ("sandbox",), toolchains=("toolchain/sh",),
               routes=(("sh", "toolchain/sh"),))  # fmt: skip
    tool = _c("sh", "toolchain", ("sandbox",), tools=("sh",))
    item = _summary(agent, tool)["agent/a"]
    assert item.reach == "none" and item.host == "none"  # type: ignore[attr-defined]
    assert item.risks == ()  # type: ignore[attr-defined]


def test_allowlists_of_toolchains_are_joined() -> None:
    egress = Egress(allow=("pypi.example",), via="egress")
    agent = _c("a", "agent", ("sandbox",), toolchains=("toolchain/py",),
               egress=Egress(allow=("git.example",), via="egress"))  # fmt: skip
    tool = _c("py", "toolchain", ("sandbox",), egress=egress)
    item = _summary(agent, tool)["agent/a"]
    assert item.reach == (  # type: ignore[attr-defined]
        "only git.example via egress; only pypi.example via egress (toolchain/py)"
    )


def test_the_host_opt_in_is_shown_and_warned_about_through_routes_too() -> None:
    agent = _c("a", "agent", ("sandbox",), toolchains=("toolchain/t",))
    tool = _c("t", "toolchain", ("open",))
    summary = _summary(agent, tool)
    assert summary["toolchain/t"].host == "open (allow: host)"  # type: ignore[attr-defined]
    assert summary["agent/a"].host == "open (allow: host) via toolchain/t"  # type: ignore[attr-defined]
    assert summary["agent/a"].reach == "none"  # type: ignore[attr-defined]
    assert any("host's own addresses" in r for r in summary["agent/a"].risks)  # type: ignore[attr-defined]
    data = json.loads(json.dumps(security_json(list(summary.values()))))  # type: ignore[arg-type]
    agent_json = next(d for d in data if d["container"] == "agent/a")
    assert agent_json["routed_host"] == ["open (allow: host) via toolchain/t"]


def test_a_guarded_internal_network_keeps_the_host_out_of_reach() -> None:
    item = _summary(_c("a", "agent", ("sandbox",)))["agent/a"]
    assert item.host == "none"  # type: ignore[attr-defined]
