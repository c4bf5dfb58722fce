"""Which container of the session made an egress request: the engine's facts decide. Pure.

The proxy is a container, so what it writes is untrusted: each access-log line carries the
source address of a request and the name squid's reverse lookup gave it (`<container>.<net>`,
or nothing when the lookup had not answered yet: a fresh container's first request). The
record's `client` comes from neither. aifo observes the session once per collection and maps
the address to the containers the engine reports at it on the proxy's own networks, among the
containers carrying this session's label; the spec name is the container's resource label
(set by aifo at create, out of the container's and the proxy's reach).

- One container at the address: that is the client, whatever the proxy's name said. When the
  proxy named another (or a client where the engine knows none), its claim is kept as
  `proxy_client`: evidence of a proxy that lies or a stale lookup, never the answer.
- None, or several (overlapping external networks): `client` is null and `unnamed` says why;
  never a guess.

The mapping is what the engine reports when the records are read, not when the request was
made: an address freed by a removed container and handed to a new one in between names the
new one (docs/egress.md, "Naming the client").
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from aifo.model import LABEL_RESOURCE, LABEL_SESSION
from aifo.model.observed import ObservedContainer, Snapshot

Directory = Mapping[str, frozenset[str]]  # normal address -> spec names of the containers at it

UNMAPPED = "no container of the session has this address on the proxy's networks"
AMBIGUOUS = "several containers of the session have this address"


def normal_address(text: str) -> str | None:
    """`text` as one canonical IP address (an IPv4-mapped IPv6 one as IPv4); None if it is not
    one (a proxy line with anything else in its address field is not a record)."""
    if not text or len(text) > 64:  # an IPv6 address with a zone id fits; more is not one
        return None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def spec_name(container: ObservedContainer) -> str | None:
    """`codex` of a container labelled `io.aifo.resource=agent/codex`; None without one."""
    section, sep, name = container.labels.get(LABEL_RESOURCE, "").partition("/")
    return name if section and sep and name else None


def directory(snapshot: Snapshot, networks: Iterable[str]) -> dict[str, frozenset[str]]:
    """Address -> spec names, from the session's containers' addresses on `networks` (the
    proxy's) as the engine reports them."""
    wanted = set(networks)
    found: dict[str, set[str]] = {}
    for container in snapshot.containers.values():
        name = spec_name(container)
        if name is None or container.labels.get(LABEL_SESSION) != snapshot.session:
            continue
        for network, text in container.addresses:
            address = normal_address(text)
            if network in wanted and address is not None:
                found.setdefault(address, set()).add(name)
    return {address: frozenset(names) for address, names in found.items()}


def proxy_networks(snapshot: Snapshot, proxy: str) -> tuple[str, ...]:
    """The networks the proxy container `proxy` (Docker name) is on; none when it is gone."""
    container = snapshot.containers.get(proxy)
    return container.networks if container is not None else ()


def name(address: str, claimed: str | None, table: Directory) -> dict[str, Any]:
    """The record's naming fields for a request from `address` that the proxy attributed to
    `claimed`: `client` (the engine's answer or None), `unnamed` (why None), `proxy_client`
    (the proxy's claim, only when it differs from `client`)."""
    names = table.get(address, frozenset())
    client = next(iter(names)) if len(names) == 1 else None
    out: dict[str, Any] = {"client": client}
    if client is None:
        out["unnamed"] = AMBIGUOUS + ": " + ", ".join(sorted(names)) if names else UNMAPPED
    if claimed is not None and claimed != client:
        out["proxy_client"] = claimed
    return out
