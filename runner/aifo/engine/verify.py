"""Postcondition checks of observed objects against their declarations. Pure: no Docker.

The comparison rules live in aifo.drift (and aifo.compare); these phrase their findings for
apply's fail-closed checks. Each returns a list of human-readable mismatches; empty means
verified. Callers raise `aifo.errors.VerificationFailed` when a list is not empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aifo.drift import DEFAULT_BRIDGE, attachment_changes, network_differences
from aifo.model import Network
from aifo.observed import ObservedContainer, ObservedNetwork


def verify_network(
    declared: Network, observed: ObservedNetwork, expected_labels: Mapping[str, str]
) -> list[str]:
    """Driver, internal flag, subnet (when declared) and every expected label."""
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
