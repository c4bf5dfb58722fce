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
