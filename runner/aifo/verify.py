"""Verify: observed objects against their declarations, after creation and after apply. Pure.

Each check returns a list of human-readable mismatches; empty means verified. The apply
(aifo.apply.scheduler) raises `aifo.errors.VerificationFailed` (fail closed) when one is not empty.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence

from aifo.model import Network
from aifo.observed import ObservedContainer, ObservedNetwork

DEFAULT_BRIDGE = "bridge"
NONE_NETWORK = "none"


def _same_subnet(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_network(a, strict=False) == ipaddress.ip_network(b, strict=False)
    except ValueError:
        return a == b


def verify_network(
    declared: Network, observed: ObservedNetwork, expected_labels: Mapping[str, str]
) -> list[str]:
    """Driver, internal flag, subnet (when declared) and every expected label."""
    where = f"network {observed.name or declared.docker_name}"
    problems: list[str] = []
    if observed.driver != declared.driver:
        problems.append(f"{where}: driver is {observed.driver!r}, declared {declared.driver!r}")
    if observed.internal != declared.internal:
        problems.append(
            f"{where}: internal is {str(observed.internal).lower()}, "
            f"declared {str(declared.internal).lower()}"
        )
    if declared.subnet and not any(_same_subnet(declared.subnet, s) for s in observed.subnets):
        got = ", ".join(observed.subnets) or "none"
        problems.append(f"{where}: subnet is {got}, declared {declared.subnet}")
    for key in sorted(expected_labels):
        want = expected_labels[key]
        got_value = observed.labels.get(key)
        if got_value != want:
            shown = "missing" if got_value is None else repr(got_value)
            problems.append(f"{where}: label {key} is {shown}, expected {want!r}")
    return problems


def verify_attachments(
    name: str, declared_network_names: Iterable[str], observed: ObservedContainer
) -> list[str]:
    """Attached to exactly the declared Docker networks; never the default bridge; a container
    with none declared has network mode `none` (or no network at all)."""
    declared = set(declared_network_names)
    attached = set(observed.networks)
    where = f"container {name}"
    problems: list[str] = []
    if DEFAULT_BRIDGE in attached and DEFAULT_BRIDGE not in declared:
        problems.append(f"{where}: attached to the default bridge network")
    if DEFAULT_BRIDGE in declared:
        problems.append(f"{where}: the default bridge network may not be declared")
    if not declared:
        extra = sorted(attached - {NONE_NETWORK, DEFAULT_BRIDGE})
        if extra:
            problems.append(f"{where}: declared no network, attached to {', '.join(extra)}")
        return problems
    missing = sorted(declared - attached)
    extra = sorted(attached - declared - {DEFAULT_BRIDGE})
    if missing:
        problems.append(f"{where}: not attached to {', '.join(missing)}")
    if extra:
        problems.append(f"{where}: attached to undeclared {', '.join(extra)}")
    return problems


def network_problems(
    declared: Network, observed: ObservedNetwork | None, labels: Mapping[str, str]
) -> list[str]:
    if observed is None:
        return [f"{declared.id}: network {declared.docker_name} is missing after creation"]
    return [f"{declared.id}: {p}" for p in verify_network(declared, observed, labels)]


def attachment_problems(
    rid: str, observed: ObservedContainer | None, networks: Sequence[str]
) -> list[str]:
    """Running, on exactly the declared networks (`none` when there are none), never `bridge`."""
    if observed is None:
        return [f"{rid}: container is missing after apply"]
    out: list[str] = []
    if observed.state not in ("running", "restarting"):
        out.append(f"{rid}: is {observed.state} (exit code {observed.exit_code}), not running")
    out += [f"{rid}: {p}" for p in verify_attachments(observed.name, networks, observed)]
    return out
