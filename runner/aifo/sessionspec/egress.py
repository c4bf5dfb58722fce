"""Checks on `egress:` the schema cannot express (docs/egress.md). Pure; located issues.

A client (an agent or toolchain with `egress`) reaches the outside only through the proxy, so it
must sit on internal networks of the spec only; its `via` must be a declared network; its
allowlist must parse; it may not set the proxy variables aifo sets; and the names aifo adds for
the proxy must be free.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aifo.egress.sidecar import (
    CLIENT_SECTIONS,
    PROXY,
    PROXY_ENV,
    VIA_DEFAULT,
    client_network,
    clients,
)
from aifo.sessionspec.nodes import JsonPath

Add = Callable[..., None]  # Checker.add(path, message, hint=None, *, key=False)
Unknown = Callable[[JsonPath, str, str, list[str]], None]  # Checker.unknown


def check(data: dict[str, Any], add: Add, unknown: Unknown) -> None:
    networks: dict[str, Any] = data.get("networks") or {}
    for name, cfg in (data.get("services") or {}).items():
        if isinstance(cfg, dict) and cfg.get("egress"):
            add(
                ("services", name, "egress"),
                "`egress` is for agents and toolchains",
                "move this container under agents: or toolchains:, or give it a network",
                key=True,
            )
    found = list(clients(data))
    if not found:
        return
    from aifo.egress.rules import HINT, PatternError, parse  # a spec without egress: not loaded

    reserved = _reserved_names(data, [n for _s, n, _c in found])
    for section, name in _all_containers(data):
        if name == PROXY:
            add(
                (section, name),
                f"the name {PROXY!r} is taken by aifo's egress proxy in a spec that uses egress",
                "rename this container",
                key=True,
            )
    for net in networks:
        if net in reserved:
            add(
                ("networks", net),
                f"the network name {net!r} is taken by aifo's egress proxy here",
                "rename this network (aifo creates it for the proxy)",
                key=True,
            )
    for section, name, cfg in found:
        base: JsonPath = (section, name)
        egress = cfg["egress"]
        for i, net in enumerate(cfg.get("networks") or ()):
            spec = networks.get(net)
            if net not in networks:
                continue  # unknown: reported by the reference check
            if not isinstance(spec, dict) or spec.get("external") or not spec.get("internal"):
                add(
                    (*base, "networks", i),
                    f"network {net!r} is not an internal network of this spec, but this "
                    "container has `egress`: it must reach the outside only through the proxy",
                    f"make {net!r} `internal: true`, or set `egress: null` for unfiltered access",
                )
        via = egress.get("via")
        if via is not None and via not in networks:
            unknown((*base, "egress", "via"), "network", str(via), list(networks))
        for i, pattern in enumerate(egress.get("allow") or ()):
            try:
                parse(str(pattern))
            except PatternError as exc:
                add((*base, "egress", "allow", i), str(exc), HINT)
        for key in cfg.get("env") or {}:
            if key in PROXY_ENV:
                add(
                    (*base, "env", key),
                    f"{key} is set by aifo for a container with `egress` (the session's proxy)",
                    "drop it here; to go without the proxy, set `egress: null`",
                    key=True,
                )


def _reserved_names(data: dict[str, Any], names: list[str]) -> set[str]:
    out = {client_network(n) for n in names}
    via_default = any(not (cfg.get("egress") or {}).get("via") for _s, _n, cfg in clients(data))
    if via_default:
        out.add(VIA_DEFAULT)
    return out


def _all_containers(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (section, name)
        for section in (*CLIENT_SECTIONS, "services")
        for name in data.get(section) or {}
    ]
