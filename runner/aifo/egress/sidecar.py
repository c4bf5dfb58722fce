"""Add the egress proxy to a resolved spec: one service, its networks, the clients' settings. Pure.

A client is an agent or toolchain with `egress: {allow: [...], via: NET}`. The spec stage has
checked that its networks are internal ones of the spec (aifo.sessionspec.egress). Here:

- a client without networks gets its own internal network `egress-<client>` (two such clients
  stay apart, as with network mode `none`);
- the proxy, service `egress-proxy`, joins every network of every client and every `via` (by
  default `egress-out`, a normal bridge network aifo creates); its DNS name `egress-proxy` is the
  same on all of them, so a replaced proxy keeps the clients' address;
- each client gets HTTP_PROXY/HTTPS_PROXY (both cases) pointing at it, NO_PROXY for the
  containers it shares a network with, and a dependency on the proxy (started first);
- the proxy's squid.conf (aifo.egress.squid) travels in its environment, so a changed allowlist
  changes only the proxy's config hash: apply replaces the proxy, the clients stay.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from aifo.model import docker_name

PROXY = "egress-proxy"
IMAGE_REPO = "aifo-egress-proxy"  # built once per content, shared by every session
VIA_DEFAULT = "egress-out"
CLIENT_NETWORK_PREFIX = "egress-"
CLIENT_SECTIONS = ("agents", "toolchains")
PROXY_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy")
CONF_ENV = "AIFO_EGRESS_CONF"
PROXY_USER = "13:13"  # Debian's `proxy` user: squid needs no root here
READY_TIMEOUT_S = 30
LOCAL = ("localhost", "127.0.0.1", "::1")


def client_network(client: str) -> str:
    return f"{CLIENT_NETWORK_PREFIX}{client}"


def clients(data: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(section, name, container) of every container with an `egress` setting."""
    for section in CLIENT_SECTIONS:
        for name, cfg in sorted((data.get(section) or {}).items()):
            if isinstance(cfg, dict) and cfg.get("egress"):
                yield section, name, cfg


def expand(
    data: dict[str, Any], *, context: str, image: Callable[[], str] | None = None
) -> dict[str, Any]:
    """`data` with the proxy added (a copy; `data` itself is unchanged when there are clients).

    `context`: the proxy image's build folder (profiles/egress); `image`: its reference, asked
    only when there is a client (one tag by content for every session: `IMAGE_REPO:<hash>`).
    """
    found = list(clients(data))
    if not found:
        return data
    from aifo.egress import squid  # a spec without egress loads neither
    from aifo.egress.rules import parse_all

    out = copy.copy(data)
    out["networks"] = dict(data.get("networks") or {})
    for section in ("agents", "toolchains", "services"):
        if section in data:
            out[section] = dict(data[section] or {})
    session = str(data["session"])
    networks: dict[str, Any] = out["networks"]
    proxy_networks: set[str] = set()
    docker_nets = {n: _docker_network(session, n, c) for n, c in networks.items()}
    targets: list[squid.Client] = []
    for section, name, cfg in found:
        egress = cfg["egress"]
        own = list(cfg.get("networks") or ())
        if not own:
            own = [client_network(name)]
            networks[own[0]] = {"internal": True}
            docker_nets[own[0]] = docker_name(session, own[0])
        via = str(egress.get("via") or VIA_DEFAULT)
        if via == VIA_DEFAULT and VIA_DEFAULT not in networks:
            networks[VIA_DEFAULT] = {}
            docker_nets[VIA_DEFAULT] = docker_name(session, VIA_DEFAULT)
        proxy_networks.update(own)
        proxy_networks.add(via)
        container = docker_name(session, name)
        targets.append(
            squid.Client(
                rid=f"{section[:-1]}/{name}",
                sources=tuple(f"{container}.{docker_nets[n]}" for n in sorted(own)),
                rules=parse_all(list(egress.get("allow") or ())),
            )
        )
        updated = dict(cfg)
        updated["networks"] = own
        updated["env"] = {**(cfg.get("env") or {}), **_proxy_env(data, session, name, own)}
        updated["depends_on"] = _with_proxy(cfg.get("depends_on"))
        out[section][name] = updated
    out.setdefault("services", {})
    out["services"] = dict(out.get("services") or {})
    ref = image() if image is not None else None
    out["services"][PROXY] = _proxy(sorted(proxy_networks), squid.render(targets), context, ref)
    return out


def _docker_network(session: str, name: str, cfg: Any) -> str:
    if isinstance(cfg, dict) and cfg.get("external"):
        return str(cfg.get("name") or name)
    return docker_name(session, name)


def _proxy_env(data: dict[str, Any], session: str, name: str, own: list[str]) -> dict[str, str]:
    from aifo.egress import squid

    url = f"http://{PROXY}:{squid.PORT}"
    peers: set[str] = set()
    for section in ("agents", "toolchains", "services"):
        for other, cfg in (data.get(section) or {}).items():
            if other != name and set((cfg or {}).get("networks") or ()) & set(own):
                peers.update((other, docker_name(session, other)))
    no_proxy = ",".join([*LOCAL, *sorted(peers)])
    return {
        "HTTP_PROXY": url,
        "HTTPS_PROXY": url,
        "http_proxy": url,
        "https_proxy": url,
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
    }


def _with_proxy(depends_on: Any) -> Any:
    if isinstance(depends_on, dict):
        return {**depends_on, PROXY: {"condition": "started"}}
    return [*(depends_on or ()), PROXY]


def _proxy(networks: list[str], conf: str, context: str, ref: str | None) -> dict[str, Any]:
    image: dict[str, Any] = {"build": {"context": context}}
    if ref is not None:
        image["name"] = ref
    return {
        "image": image,
        "pull": "never",
        "command": ["serve"],
        "env": {CONF_ENV: conf},
        "networks": networks,
        "workspace": False,
        "user": PROXY_USER,
        "security": {"read_only": True, "cap_drop": ["ALL"], "no_new_privileges": True},
        "resources": {"memory": "256m", "pids": 512},
        "mounts": [
            {"tmpfs": "/run/aifo-egress", "size": "16m"},
            {"tmpfs": "/tmp", "size": "64m"},
        ],
        # The proxy's readiness is part of the transaction: the hook fails (and the apply rolls
        # back) when squid refused its rules or never listens.
        "hooks": [{"name": "ready", "run": ["aifo-egress", "ready", str(READY_TIMEOUT_S)]}],
        "restart": "no",
    }
