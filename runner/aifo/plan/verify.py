"""Verify: observed objects against their declarations, after creation and after apply. Pure.

The comparison rules live in aifo.plan.drift (and aifo.plan.compare); these phrase their findings.
Each check returns a list of human-readable mismatches; empty means verified. The apply
(aifo.apply.scheduler) raises `aifo.errors.VerificationFailed` (fail closed) when one is not empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from aifo.model import Network
from aifo.model.observed import ObservedContainer, ObservedNetwork
from aifo.plan.drift import DEFAULT_BRIDGE, attachment_changes, network_differences


def verify_network(
    declared: Network, observed: ObservedNetwork, expected_labels: Mapping[str, str]
) -> list[str]:
    """Driver, internal flag, subnet (when declared) and every expected label, by the shared
    comparison rules (aifo.plan.drift)."""
    where = f"network {observed.name or declared.docker_name}"
    return [
        f"{where}: {d.line()}" for d in network_differences(declared, observed, expected_labels)
    ]


def verify_attachments(
    name: str, declared_network_names: Iterable[str], observed: ObservedContainer
) -> list[str]:
    """Attached to exactly the declared Docker networks; never the default bridge; a container
    with none declared has network mode `none` (or no network at all)."""
    declared = sorted(set(declared_network_names))
    where = f"container {name}"
    problems: list[str] = []
    if DEFAULT_BRIDGE in declared:
        problems.append(f"{where}: the default bridge network may not be declared")
    missing, extra = attachment_changes(declared, observed)
    if DEFAULT_BRIDGE in extra:
        problems.append(f"{where}: attached to the default bridge network")
    extra = tuple(n for n in extra if n != DEFAULT_BRIDGE)
    if not declared:
        if extra:
            problems.append(f"{where}: declared no network, attached to {', '.join(extra)}")
        return problems
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


def guard_problems(
    networks: Sequence[Network],
    observed: Mapping[str, ObservedNetwork],
    guards: Mapping[str, Sequence[str]],
) -> list[str]:
    """Each guarded network's bridge (as observed) is among the bridges the host guard drops
    new connections from (`guards`: network Docker name -> bridges, read back)."""
    out: list[str] = []
    for net in networks:
        found = observed.get(net.docker_name)
        if found is None:
            out.append(f"{net.id}: network {net.docker_name} is missing")
        elif not found.bridge or found.bridge not in guards.get(net.docker_name, ()):
            bridge = found.bridge or "(no bridge named)"
            out.append(
                f"{net.id}: the host accepts new connections from {bridge}: "
                "no aifo-guard rule drops them"
            )
    return out
