"""Drift: what the spec declares against what Docker really has, field by field. Pure.

The config-hash label says what aifo created; these rules say what the object *is* now, so a
container someone attached to the default bridge, moved to another network, or `docker update`d
to unlimited pids is seen (and converged by apply) even though its hash still matches. The
planner, apply's postcondition checks and `aifo status` all judge by these functions, with the
policies of aifo.plan.compare.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from aifo.model import Container, Network
from aifo.model.observed import ContainerFacts, MountFact, ObservedContainer, ObservedNetwork
from aifo.plan.compare import Difference, Differences, ignore_unset, same_subnet, unordered
from aifo.values.units import size_bytes

DEFAULT_BRIDGE = "bridge"
NONE_NETWORK = "none"
IN_PLACE = frozenset({"networks"})  # fields apply fixes without recreating the container


# -- value shapes ------------------------------------------------------------------------------


def cap_key(name: str) -> str:
    """`CAP_NET_ADMIN`, `net_admin` and `NET_ADMIN` are one capability (Docker stores CAP_…)."""
    upper = name.strip().upper()
    return upper[4:] if upper.startswith("CAP_") else upper


def security_opt_key(option: str) -> str | None:
    """`no-new-privileges`, `…:true` and `…=true` are one option; `…:false` is none at all."""
    key, sep, value = option.strip().replace(":", "=", 1).partition("=")
    if key == "no-new-privileges":
        return None if sep and value.lower() == "false" else key
    return f"{key}={value}" if sep else key


def _keys(values: Iterable[str], key: Callable[[str], str | None]) -> frozenset[str]:
    out = set()
    for value in values:
        k = key(value)
        if k:
            out.add(k)
    return frozenset(out)


def same_caps(desired: Iterable[str], actual: Iterable[str]) -> bool:
    return _keys(desired, cap_key) == _keys(actual, cap_key)


def same_security_opts(desired: Iterable[str], actual: Iterable[str]) -> bool:
    return _keys(desired, security_opt_key) == _keys(actual, security_opt_key)


def same_cpus(desired: float | None, actual: float | None) -> bool:
    """Docker keeps CPUs as integer nano-CPUs."""
    if desired is None or actual is None:
        return desired == actual
    return round(desired * 1e9) == round(actual * 1e9)


# -- networks ----------------------------------------------------------------------------------


def network_differences(
    declared: Network, observed: ObservedNetwork, labels: Mapping[str, str]
) -> tuple[Difference, ...]:
    """Driver, internal flag, subnet (when declared; compared as networks) and `labels`."""
    d = Differences()
    d.add("driver", declared.driver, observed.driver)
    d.add("internal", declared.internal, observed.internal)
    d.add("subnet", declared.subnet, observed.subnets, same_subnet)
    for key in sorted(labels):
        d.add(f"labels.{key}", labels[key], observed.labels.get(key))
    return d.freeze()


# -- containers --------------------------------------------------------------------------------


def attached(observed: ObservedContainer) -> tuple[str, ...]:
    """The networks a container is really on (`none` is no network)."""
    return tuple(sorted(set(observed.networks) - {NONE_NETWORK}))


def attachment_differences(
    networks: Sequence[str], observed: ObservedContainer
) -> tuple[Difference, ...]:
    """Exactly the declared Docker networks (none declared: none at all); the default bridge is
    never declared, so a container on it always differs."""
    d = Differences()
    d.add("networks", tuple(sorted(networks)), attached(observed), unordered)
    return d.freeze()


def expected_mounts(c: Container, volumes: Mapping[str, str]) -> tuple[MountFact, ...]:
    out = []
    for m in c.mounts:
        source = m.source or ""
        if m.kind == "volume":
            source = volumes.get(source, source)
        size = size_bytes(m.tmpfs_size) if m.kind == "tmpfs" and m.tmpfs_size else None
        out.append(MountFact(m.target, m.kind, source, m.read_only and m.kind != "tmpfs", size))
    return tuple(sorted(out))


def expected_facts(c: Container, volumes: Mapping[str, str]) -> ContainerFacts:
    """The facts a container created from `c` has (user "" when the image decides)."""
    nnp = ("no-new-privileges",) if c.no_new_privileges else ()
    return ContainerFacts(
        user=c.process_user or "",
        privileged=c.privileged,
        cap_add=tuple(sorted(c.cap_add)),
        cap_drop=tuple(sorted(c.cap_drop)),
        security_opt=tuple(sorted({*nnp, *c.security_opt})),
        pids_limit=c.pids_limit,
        memory_bytes=c.memory_bytes,
        cpus=c.cpus,
        read_only=c.read_only,
        mounts=expected_mounts(c, volumes),
    )


def container_differences(
    c: Container,
    observed: ObservedContainer,
    networks: Sequence[str],
    volumes: Mapping[str, str],
) -> tuple[Difference, ...]:
    """Every isolation fact of `observed` that differs from `c`. Needs inspected facts: a
    container only listed (or a hand-written snapshot without facts) shows none."""
    got = observed.facts
    if got is None:
        return ()
    want = expected_facts(c, volumes)
    d = Differences()
    for diff in attachment_differences(networks, observed):
        d.add(diff.field, diff.desired, diff.actual, unordered)
    d.add("privileged", want.privileged, got.privileged)
    d.add("user", c.process_user, got.user, ignore_unset)
    d.add("cap_add", want.cap_add, got.cap_add, same_caps)
    d.add("cap_drop", want.cap_drop, got.cap_drop, same_caps)
    d.add("security_opt", want.security_opt, got.security_opt, same_security_opts)
    d.add("pids_limit", want.pids_limit, got.pids_limit)
    d.add("memory_bytes", want.memory_bytes, got.memory_bytes)
    d.add("cpus", want.cpus, got.cpus, same_cpus)
    d.add("read_only", want.read_only, got.read_only)
    d.add("mounts", want.mounts, got.mounts, unordered)
    return d.freeze()


def in_place(differences: Iterable[Difference]) -> bool:
    """Whether apply can fix all of these without recreating the container."""
    return all(d.field in IN_PLACE for d in differences)


def attachment_changes(
    networks: Sequence[str], observed: ObservedContainer
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(networks to connect, networks to disconnect) to be on exactly `networks`."""
    have = set(attached(observed))
    want = set(networks)
    return tuple(sorted(want - have)), tuple(sorted(have - want))
