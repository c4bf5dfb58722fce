"""Fail-closed checks: networks are what the spec declares; containers sit on exactly theirs.

Pure functions over observed objects; the scheduler makes the (batched) inspect calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from runner.model import Network
from runner.observed import ObservedContainer, ObservedNetwork

DEFAULT_BRIDGE = "bridge"


def network_problems(
    declared: Network, observed: ObservedNetwork | None, labels: Mapping[str, str]
) -> list[str]:
    if observed is None:
        return [f"{declared.id}: network {declared.docker_name} is missing after creation"]
    out: list[str] = []
    if observed.driver != declared.driver:
        out.append(f"driver is {observed.driver!r}, declared {declared.driver!r}")
    if observed.internal != declared.internal:
        out.append(f"internal is {observed.internal}, declared {declared.internal}")
    if declared.subnet is not None and declared.subnet not in observed.subnets:
        out.append(f"subnets are {list(observed.subnets)}, declared {declared.subnet}")
    for key, value in sorted(labels.items()):
        if observed.labels.get(key) != value:
            out.append(f"label {key} is {observed.labels.get(key)!r}, expected {value!r}")
    return [f"{declared.id}: network {declared.docker_name}: {p}" for p in out]


def attachment_problems(
    rid: str, observed: ObservedContainer | None, networks: Sequence[str]
) -> list[str]:
    """A container must run on exactly its declared networks, never on the default bridge."""
    if observed is None:
        return [f"{rid}: container is missing after apply"]
    out: list[str] = []
    if observed.state not in ("running", "restarting"):
        out.append(f"{rid}: is {observed.state} (exit code {observed.exit_code}), not running")
    have = set(observed.networks)
    if DEFAULT_BRIDGE in have and DEFAULT_BRIDGE not in networks:
        out.append(f"{rid}: is attached to the default `bridge` network")
    want = set(networks) if networks else {"none"}
    have_cmp = have or {"none"}
    if have_cmp != want:
        out.append(f"{rid}: is on networks {sorted(have_cmp)}, declared {sorted(want)}")
    return out
