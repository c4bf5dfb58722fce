"""Which toolchain runs each of an agent's tools: the route table, from the resolved spec. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def tools_of(cfg: Mapping[str, Any]) -> tuple[str, ...]:
    """A toolchain's routed tools, sorted: its `tools` list, or the names a mapping sets true."""
    tools = cfg.get("tools") or ()
    if isinstance(tools, Mapping):
        return tuple(sorted(str(t) for t, on in tools.items() if on))
    return tuple(sorted(str(t) for t in tools))


def routes_of(data: Mapping[str, Any], agent_cfg: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """(tool, toolchain id) per tool the agent routes, sorted by tool. When two toolchains
    provide a tool, the first in the agent's `toolchains:` list wins."""
    chosen: dict[str, str] = {}
    toolchains = data.get("toolchains") or {}
    for tc in agent_cfg.get("toolchains") or ():
        for tool in tools_of(toolchains.get(tc) or {}):
            chosen.setdefault(tool, f"toolchain/{tc}")
    return tuple(sorted(chosen.items()))


def route_map(data: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """agent -> {tool: toolchain name} for every agent that routes something (for display)."""
    out: dict[str, dict[str, str]] = {}
    for agent, cfg in sorted((data.get("agents") or {}).items()):
        routes = routes_of(data, cfg or {})
        if routes:
            out[agent] = {tool: tc.split("/", 1)[1] for tool, tc in routes}
    return out


def route_lines(routes: Mapping[str, Mapping[str, str]]) -> list[str]:
    """One line per agent: `a: cargo, rustc -> rust; npm -> node`."""
    lines = []
    for agent, tools in routes.items():
        by_tc: dict[str, list[str]] = {}
        for tool, tc in sorted(tools.items()):
            by_tc.setdefault(tc, []).append(tool)
        parts = [f"{', '.join(t)} -> {tc}" for tc, t in by_tc.items()]
        lines.append(f"{agent}: {'; '.join(parts)}")
    return lines
