"""The host guard in the transaction: each guarded network's firewall rules, journaled.

Internal networks only filter forwarded traffic; what keeps their containers off the host's own
addresses is aifo's INPUT rules (aifo.engine.firewall, docs/security.md). Apply:

1. fails closed before any change when the session has a guarded network (`Network.guarded`:
   internal, not external, no `allow: [host]`) and the engine's host cannot be guarded here
   (not root, no iptables, a remote engine): the error says why and how to opt in;
2. once the networks exist and are verified, and before any container starts, runs one step per
   guarded network whose rules are missing: install, read back. Its undo (`unguard_network`)
   removes them again unless rules were there before the step;
3. reads the rules back after the containers start (aifo.plan.verify.guard_problems).

Observe reads the rules back when a guarded network exists (two `iptables -S`), and the planner
makes a network whose rules are missing an `update` (aifo.plan.planner), so rules lost to a
reboot or a firewall reload are put back by the next `aifo apply`. Destroy removes every rule of the
session, rollback and recovery those their steps added (by the journaled undo), the commit
those of the networks it removes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aifo.apply.ops import op
from aifo.apply.transaction import Step
from aifo.engine.api import Engine
from aifo.errors import VerificationFailed
from aifo.model import Network, Session
from aifo.model.observed import ObservedNetwork
from aifo.plan.verify import guard_problems


def guarded(session: Session) -> list[Network]:
    return [n for n in session.networks if n.guarded]


def check_can_guard(engine: Engine, session: Session) -> None:
    """Fail closed, before any change, when a guarded network cannot be guarded here."""
    nets = guarded(session)
    if not nets:
        return
    problem = engine.host_guard_problem()
    if problem is None:
        return
    names = ", ".join(n.name for n in nets)
    raise VerificationFailed(
        f"internal network(s) {names}: aifo cannot keep their containers off this host's own "
        f"addresses ({problem}); an internal network alone only blocks forwarded traffic",
        hint="run aifo as root with iptables (and ip6tables) installed, or accept the risk "
        f"with `allow: [host]` under networks.{nets[0].name}",
    )


def guard_steps(
    engine: Engine, session: Session, found: Mapping[str, ObservedNetwork] | None = None
) -> list[Step]:
    """One step per guarded network whose bridge is not guarded yet (`found`: the networks as
    inspected, else inspected here)."""
    nets = guarded(session)
    if not nets:
        return []
    present = engine.network_guards(session.name)
    if found is None or any(n.docker_name not in found for n in nets):
        found = {o.name: o for o in engine.inspect_networks([n.docker_name for n in nets])}
    steps: list[Step] = []
    for net in nets:
        observed = found.get(net.docker_name)
        if observed is None:
            raise VerificationFailed(f"{net.id}: network {net.docker_name} is missing")
        if observed.bridge and observed.bridge in present.get(net.docker_name, ()):
            continue
        undo = op("unguard_network", network=net.docker_name, had=net.docker_name in present)
        args = {"name": net.docker_name, "bridge": observed.bridge}
        steps.append(Step("guard_network", net.id, args, undo, _guard(engine, session, observed)))
    return steps


def _guard(engine: Engine, session: Session, observed: ObservedNetwork) -> Any:
    def guard() -> dict[str, Any]:
        return {"added": engine.guard_network(session.name, observed)}

    return guard


def verify_guards(
    engine: Engine, session: Session, found: Mapping[str, ObservedNetwork] | None = None
) -> None:
    """After apply: every guarded network's bridge is guarded, read back from the firewall."""
    nets = guarded(session)
    if not nets:
        return
    if found is None:
        found = {o.name: o for o in engine.inspect_networks([n.docker_name for n in nets])}
    problems = guard_problems(nets, found, engine.network_guards(session.name))
    if problems:
        raise VerificationFailed("the host guard is not in place:\n  " + "\n  ".join(problems))


def unguard_quietly(engine: Engine, session: str, network: str | None = None) -> int:
    """Remove rules where aifo can; where it cannot (not root) it could not have set any."""
    if engine.host_guard_problem() is not None:
        return 0
    return engine.unguard_network(session, network)
