"""Turn a plan into journaled steps and run them in dependency order, in parallel.

1. images, networks, volumes (parallel; their steps: aifo.apply.objects); a network whose
   settings changed is replaced: the containers on it detached, it removed and created as
   declared (each step with its inverse; the containers on it are replaced in step 2); then one
   batched inspect verifies every network (fail closed: nothing starts on a network that isn't
   what the spec says); then the host guard of every internal network (aifo.apply.guard), before
   any container starts
2. drifted network attachments of running containers put right in place (connect/disconnect,
   each with its inverse); then per container, as soon as the containers it needs are done:
   create it (a replacement under a temporary name), wait for its dependencies' readiness, stop
   the container it replaces, start it, run its hooks; up to `parallel` containers at once
3. one batched inspect: every container runs on exactly its declared networks, none on bridge;
   the host guard read back
4. commit ops for the caller: remove replaced and departed objects, rename replacements
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aifo.apply.applied import applied_record
from aifo.apply.guard import check_can_guard, guard_steps, verify_guards
from aifo.apply.hooks import run_hook
from aifo.apply.hostdirs import make_host_dirs
from aifo.apply.netreplace import replacement_steps
from aifo.apply.objects import image_step, network_step, volume_step
from aifo.apply.ops import Op, commit_ops, op
from aifo.apply.readiness import (
    wait_ready,
    wait_with_rows,
    waits_for_all,
    waits_for_dependencies,
)
from aifo.apply.transaction import Chain, Step, Transaction
from aifo.errors import PortInUse, VerificationFailed
from aifo.model import (
    LABEL_DEPENDS,
    Container,
    Hook,
    Session,
    aifo_labels,
)
from aifo.model.observed import ObservedContainer, ObservedNetwork
from aifo.plan.drift import DEFAULT_BRIDGE
from aifo.plan.planner import (
    Create,
    Plan,
    PlanAction,
    Replace,
    ReplaceNetwork,
    Start,
    Update,
)
from aifo.plan.verify import attachment_problems, network_problems
from aifo.state.secrets import SecretReader


def port_entry(c: Container, taken: PortInUse) -> tuple[str | int, ...]:
    """The spec path of the container's port entry that publishes the taken host port
    (`services.web.ports[1]`); the container's `ports` when none matches exactly."""
    base: tuple[str | int, ...] = (f"{c.role}s", c.name, "ports")
    same = [
        i
        for i, p in enumerate(c.ports)
        if p.host_port == taken.host_port and p.protocol == taken.protocol
    ]
    exact = [i for i in same if c.ports[i].host_ip == taken.host_ip]
    found = exact or same
    return (*base, found[0]) if found else base


@dataclass
class Outcome:
    """What the run produced: commit ops, the applied record, final container ids."""

    commit_ops: list[Op] = field(default_factory=list)
    applied: dict[str, Any] = field(default_factory=dict)
    container_ids: dict[str, str] = field(default_factory=dict)
    # graph id -> the container as verified after its start (what `aifo exec` needs next)
    verified: dict[str, ObservedContainer] = field(default_factory=dict)


class Scheduler:
    def __init__(
        self,
        tx: Transaction,
        session: Session,
        plan: Plan,
        read_secret: SecretReader,
        *,
        wait: bool = False,
        wait_timeout_s: float | None = None,
    ) -> None:
        self.tx = tx
        self.wait = wait
        self.wait_timeout_s = wait_timeout_s
        self.engine = tx.engine
        self.session = session
        self.plan = plan
        self.read_secret = read_secret
        self.by_id: dict[str, PlanAction] = {a.id: a for a in plan.actions if a.op != "remove"}
        self.net_names = {n.name: n.docker_name for n in session.networks}
        self.vol_names = {v.name: v.docker_name for v in session.volumes}
        self.hooks: dict[str, Hook] = {h.id: h for h in session.hooks}
        self.new_ids: dict[str, str] = {}  # container rid -> id of the container created now
        self.hooks_done: set[str] = set()
        self.found_networks: dict[str, ObservedNetwork] | None = None  # as verified after create
        self.verified: dict[str, ObservedContainer] = {}  # graph id -> as inspected at the end

    # -- helpers ------------------------------------------------------------------------------
    def networks_of(self, c: Container) -> list[str]:
        return [self.net_names[n] for n in c.networks]

    def ref(self, rid: str) -> str:
        """The id of a container as it will be once this apply is done."""
        if rid in self.new_ids:
            return self.new_ids[rid]
        action = self.by_id.get(rid)
        return getattr(action, "observed_id", "") or (action.docker_name if action else rid)

    # -- phases -------------------------------------------------------------------------------
    def run(self) -> Outcome:
        changes = self.plan.changes
        building = any(a.op != "remove" for a in changes)  # not only removals
        if building:
            self.check_secrets()
        check_can_guard(self.engine, self.session)
        if building:
            self.prepare()
            self.replace_networks()
            self.verify_networks()
        self.tx.check()
        self.tx.run(guard_steps(self.engine, self.session, self.found_networks))
        if building:
            self.update_containers()
            self.create_and_start()
            self.verify_containers()
        verify_guards(self.engine, self.session, self.found_networks)
        if self.wait:
            self.wait_all()
        return self.outcome()

    def wait_all(self) -> None:
        """`apply --wait`: every container ready (healthy, or running), a live row per wait;
        not ready in time is a failure like any other (rolled back)."""
        waits = waits_for_all(self.session.containers, self.ref, self.wait_timeout_s)
        self.tx.check()
        wait_with_rows(self.engine, waits, self.tx, self.tx.emit)
        self.tx.check()

    def check_secrets(self) -> None:
        """A required secret that hooks will need and that is unset fails before any change."""
        for action in self.plan.changes:
            if action.kind == "hook":
                container = self.session.resources[self.hooks[action.id].container]
                assert isinstance(container, Container)
                for var in container.secrets:
                    self.read_secret(var)

    def prepare(self) -> None:
        steps: list[Step] = []
        for action in self.plan.changes:
            if not isinstance(action, Create):
                continue
            resource = self.session.resources.get(action.id)
            if action.kind == "image":
                steps.append(image_step(self.engine, self.session, action.id, self.tx.emit))
            elif action.kind == "network" and resource is not None:
                steps.append(network_step(self.engine, self.session, action.id))
            elif action.kind == "volume" and resource is not None:
                steps.append(volume_step(self.engine, self.session, action.id))
        self.tx.run(steps)

    def replace_networks(self) -> None:
        """Networks whose settings changed (aifo.apply.netreplace): detach, remove, create."""
        replaced = [a for a in self.plan.changes if isinstance(a, ReplaceNetwork)]
        if not replaced:
            return
        detach, remove = replacement_steps(self.engine, self.session, replaced)
        self.tx.run(detach)
        self.tx.run(remove)
        self.tx.run([network_step(self.engine, self.session, a.id) for a in replaced])

    def verify_networks(self) -> None:
        declared = [n for n in self.session.networks if not n.external]
        if not declared:
            return
        self.tx.check()
        found = self.engine.inspect_networks([n.docker_name for n in declared])
        by_name = {o.name: o for o in found}
        self.found_networks = by_name
        problems: list[str] = []
        for net in declared:
            labels = aifo_labels(self.session.name, net.id, net.config_hash, net.labels)
            problems += network_problems(net, by_name.get(net.docker_name), labels)
        if problems:
            raise VerificationFailed("networks are not as declared:\n  " + "\n  ".join(problems))

    def create_and_start(self) -> None:
        """One chain per container: create it (a replacement under its temporary name), wait
        until its own dependencies are ready, stop the container it replaces, start it, run its
        hooks. A chain starts as soon as the chains of the containers it needs are done, not
        when a whole graph layer is, so creates and starts overlap."""
        actions = [
            a
            for a in self.plan.changes
            if a.kind == "container" and isinstance(a, Create | Replace | Start)
        ]
        chains = [self._chain(a) for a in sorted(actions, key=lambda a: a.layer)]
        self.tx.run_chains(chains)
        self.tx.run(self._hook_steps(None))

    def _chain(self, action: PlanAction) -> Chain:
        c = self.session.resources[action.id]
        assert isinstance(c, Container)
        steps: list[Step] = []
        if isinstance(action, Create | Replace):
            name = action.temp_name if isinstance(action, Replace) else action.docker_name
            steps.append(self._container_step(action.id, name))
            discard = op("discard_containers", names=[name])
        if isinstance(action, Replace) and action.old_running:
            steps.append(
                Step(
                    "stop_container",
                    action.id,
                    {"id": action.old_id},
                    op("restore_running", id=action.old_id, running=True),
                    self._stopper(action.old_id),
                )
            )
        if isinstance(action, Start):
            undo = op("restore_running", id=action.observed_id, running=False)
            args: dict[str, Any] = {"ids": [action.observed_id]}
        else:
            undo, args = discard, {"name": name}
        steps.append(Step("start_containers", action.id, args, undo, self._starter(action.id)))
        steps += self._hook_steps({action.id})
        needs = {*c.toolchains, *(d.target for d in c.depends_on)}
        return Chain(action.id, steps, needs, lambda: self._wait_dependencies(c))

    def _container_step(self, rid: str, name: str) -> Step:
        c = next(x for x in self.session.containers if x.id == rid)
        labels = aifo_labels(self.session.name, rid, c.config_hash, c.labels)
        needs = sorted({*c.toolchains, *(d.target for d in c.depends_on)})
        if needs:  # lets destroy stop dependents first without the spec
            labels[LABEL_DEPENDS] = ",".join(needs)
        networks = self.networks_of(c)

        def create() -> dict[str, Any]:
            make_host_dirs(c.host_dirs)
            cid = self.engine.create_container(
                c, name=name, labels=labels, networks=networks, volumes=self.vol_names
            )
            self.new_ids[rid] = cid
            return {"id": cid}

        return Step(
            "create_container",
            rid,
            {"name": name, "networks": networks},
            op("discard_containers", names=[name]),
            create,
        )

    def update_containers(self) -> None:
        """Drifted attachments of running containers: connect what is missing (with the
        container's aliases), disconnect what isn't declared (the default bridge included)."""
        steps: list[Step] = []
        for action in self.plan.changes:
            if not isinstance(action, Update) or action.kind != "container":
                continue  # a network's update is its host guard (aifo.apply.guard)
            c = self.session.resources[action.id]
            assert isinstance(c, Container)
            cid = action.observed_id
            for net in action.connect:
                steps.append(
                    Step(
                        "connect_network",
                        action.id,
                        {"network": net, "id": cid, "name": action.docker_name},
                        op("disconnect_network", network=net, id=cid),
                        self._connector(net, cid, c.aliases),
                    )
                )
            for net in action.disconnect:
                aliases = () if net == DEFAULT_BRIDGE else c.aliases
                steps.append(
                    Step(
                        "disconnect_network",
                        action.id,
                        {"network": net, "id": cid, "name": action.docker_name},
                        op("connect_network", network=net, id=cid, aliases=list(aliases)),
                        self._disconnector(net, cid),
                    )
                )
        self.tx.run(steps)

    def _connector(
        self, net: str, ref: str, aliases: Sequence[str]
    ) -> Callable[[], dict[str, Any] | None]:
        def connect() -> None:
            self.engine.connect_network(net, ref, aliases)

        return connect

    def _disconnector(self, net: str, ref: str) -> Callable[[], dict[str, Any] | None]:
        def disconnect() -> None:
            self.engine.disconnect_network(net, ref)

        return disconnect

    def _stopper(self, ref: str) -> Callable[[], dict[str, Any] | None]:
        def stop() -> None:
            self.engine.stop_container(ref)

        return stop

    def _starter(self, rid: str) -> Callable[[], dict[str, Any] | None]:
        def start() -> None:
            try:
                self.engine.start_containers([self.ref(rid)])
            except PortInUse as exc:  # name the `ports[N]` entry, not the container's id
                c = self.session.resources[rid]
                assert isinstance(c, Container)
                raise exc.at(port_entry(c, exc)) from exc

        return start

    def _wait_dependencies(self, c: Container) -> None:
        waits = waits_for_dependencies(c, self.session.resources, self.ref)
        if waits:
            wait_ready(self.engine, waits, self.tx)

    def _hook_steps(self, containers: set[str] | None) -> list[Step]:
        """Hook actions of the given containers (None: those whose container didn't start)."""
        steps: list[Step] = []
        for action in self.plan.changes:
            if action.kind != "hook" or action.id in self.hooks_done:
                continue
            hook = self.hooks[action.id]
            if containers is not None and hook.container not in containers:
                continue
            self.hooks_done.add(action.id)
            c = self.session.resources[hook.container]
            assert isinstance(c, Container)
            steps.append(
                Step(
                    "hook",
                    action.id,
                    {"container": hook.container, "name": action.docker_name},
                    None,
                    self._hook_runner(c, hook),
                )
            )
        return steps

    def _hook_runner(self, c: Container, hook: Hook) -> Callable[[], dict[str, Any] | None]:
        return lambda: run_hook(self.engine, c, hook, self.ref(c.id), self.read_secret)

    def verify_containers(self) -> None:
        declared = list(self.session.containers)
        if not declared:
            return
        self.tx.check()
        refs = {c.id: self.ref(c.id) for c in declared}
        found = self.engine.inspect_containers(list(refs.values()))
        by_id = {o.id: o for o in found}
        problems: list[str] = []
        for c in declared:
            ref = refs[c.id]
            observed = by_id.get(ref) or next(
                (o for o in found if o.id.startswith(ref) or o.name.lstrip("/") == ref), None
            )
            problems += attachment_problems(c.id, observed, self.networks_of(c))
            if observed is not None:
                self.verified[c.id] = observed
        if problems:
            raise VerificationFailed(
                "containers are not as declared after apply:\n  " + "\n  ".join(problems)
            )

    # -- commit ------------------------------------------------------------------------------
    def outcome(self) -> Outcome:
        return Outcome(
            commit_ops(self.plan, self.new_ids),
            applied_record(self.session),
            {c.id: self.ref(c.id) for c in self.session.containers},
            self.verified,
        )
