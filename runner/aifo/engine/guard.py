"""`HostGuard`: the Engine contract's host-guard methods (aifo.engine.firewall), for every adapter.
The firewall module (with shutil and shlex, ~1.5 ms) is loaded by the first method that needs it:
an apply of a session without internal networks never does (issue 26).

The rules live on the engine's host, so they can only be set where aifo runs there: Docker makes
a network's bridge when the network is created, so an absent bridge means the engine is
elsewhere (a tcp or ssh endpoint) and the guard fails closed. Podman makes it when the first
container starts (`bridge_at_create = False`); its API service is always local.
"""

from __future__ import annotations

from aifo.errors import AifoError, VerificationFailed
from aifo.model.observed import ObservedNetwork

DOCTOR_SESSION = "aifo-doctor"


class HostGuard:
    """Mixed into the adapters; the methods are documented on aifo.engine.api.Engine."""

    bridge_at_create = True

    def host_guard_problem(self) -> str | None:
        from aifo.engine import firewall  # here: a session without internal networks never asks

        return firewall.problem()

    def guard_network(self, session: str, network: ObservedNetwork) -> bool:
        from aifo.engine import firewall  # here: a session without internal networks never asks

        if self.bridge_at_create and not firewall.bridge_present(network.bridge):
            raise VerificationFailed(
                f"network {network.name}: its bridge {network.bridge or '(none named)'} is not on "
                "this machine, so aifo cannot keep the network's containers off the engine's host",
                hint="run aifo on the engine's host, or accept the risk with `allow: [host]` "
                "on the network",
            )
        return firewall.install(session, network.name, network.bridge, network.host_dns)

    def unguard_network(self, session: str, network: str | None = None) -> int:
        from aifo.engine import firewall  # here: a session without internal networks never asks

        return firewall.remove(session, network)

    def network_guards(self, session: str) -> dict[str, tuple[str, ...]]:
        from aifo.engine import firewall  # here: a session without internal networks never asks

        rules = firewall.read(session)
        out: dict[str, tuple[str, ...]] = {}
        for name in sorted({r.network for r in rules}):
            mine = [r for r in rules if r.network == name]
            out[name] = tuple(sorted({r.bridge for r in mine if firewall.guarded(mine, r.bridge)}))
        return out

    def guard_probe(self, network: ObservedNetwork | None) -> str | None:
        """`aifo doctor`: None when a guard could be set on `network` (a probe) and read back;
        else why not. The probe's rules are removed again."""
        problem = self.host_guard_problem()
        if problem is not None or network is None:
            return problem or "the probe network could not be inspected"
        try:
            self.guard_network(DOCTOR_SESSION, network)
            if not self.network_guards(DOCTOR_SESSION).get(network.name):
                return "its rules were not found when read back"
        except AifoError as exc:
            return exc.message
        finally:
            try:
                self.unguard_network(DOCTOR_SESSION, network.name)
            except AifoError:
                pass
        return None
