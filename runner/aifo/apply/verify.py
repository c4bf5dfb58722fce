"""Fail-closed checks after creation and after apply, over engineer C's pure helpers
(aifo.engine.verify): networks are what the spec declares; containers run, on exactly theirs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aifo.engine.verify import verify_attachments, verify_network
from aifo.model import Network
from aifo.observed import ObservedContainer, ObservedNetwork


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
