"""The planner: (desired Session, observed Snapshot) -> Plan of typed actions with reasons. Pure.

Rules, per resource (see docs/reconcile.md):

- missing → create; an object with the name but without this session's label → PlanError.
- container: config hash differs (or its local image changed) → replace. Same hash, but Docker's
  facts differ from the spec (aifo.plan.drift: networks, capabilities, security options, privilege,
  user, limits, read-only root, mounts) → drift: `update` (connect/disconnect) when only the
  network attachments of a running container differ, else replace. Not running → start; else noop.
- hook: runs (create) when its container is created or replaced, or when the hook is new or
  changed since the last apply; else noop.
- network: driver/internal/subnet/labels differ → replace it (Docker can't change a network in
  place): apply detaches the containers on it, removes it and creates it as declared, and every
  container on it is replaced too (as Compose recreates). `external` networks and volumes must
  exist and are never touched.
  A guarded network (internal, no `allow: [host]`) whose host guard rules were read back
  missing → `update` (apply sets them).
- owned objects the spec no longer declares → remove (run by apply's commit phase only).

Field-level reasons come from diffing the last-applied canonical config (`applied.json`, kept by
aifo.apply.applied) against the desired one; when that record is missing or stale the reason
is just `config changed`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aifo.errors import PlanError
from aifo.model import (
    LABEL_RESOURCE,
    LABEL_SCOPE,
    Container,
    Hook,
    Image,
    Network,
    Session,
    Volume,
    is_lock,
    temp_names,
)
from aifo.model.canonical import canonical, changes, diff
from aifo.model.observed import Snapshot
from aifo.plan import drift as D
from aifo.plan.actions import (
    OPS,
    Action,
    ActionKind,
    Create,
    Kind,
    Noop,
    Plan,
    PlanAction,
    Remove,
    Replace,
    ReplaceNetwork,
    Start,
    Update,
)
from aifo.plan.compare import show
from aifo.plan.judge import CONFIG_HASH, judge_container, judge_image, judge_network

__all__ = [
    "OPS",
    "Action",
    "Create",
    "Kind",
    "Noop",
    "ActionKind",
    "Plan",
    "PlanAction",
    "Remove",
    "Replace",
    "ReplaceNetwork",
    "Start",
    "Update",
    "canonical",
    "diff",
    "plan",
]

# -- planning ---------------------------------------------------------------------------------


def _layers(order: Sequence[Sequence[str]]) -> dict[str, int]:
    return {rid: i for i, layer in enumerate(order) for rid in layer}


class _Planner:
    def __init__(
        self,
        session: Session,
        snapshot: Snapshot,
        order: Sequence[Sequence[str]],
        applied: Mapping[str, Mapping[str, Any]],
    ) -> None:
        self.session = session
        self.snap = snapshot
        self.layer_of = _layers(order)
        self.last = len(order)
        self.applied = applied
        self.problems: list[str] = []
        self.actions: list[PlanAction] = []
        self.net_names = {n.name: n.docker_name for n in session.networks}
        self.volumes = {v.name: v.docker_name for v in session.volumes}
        self.replaced_networks: dict[str, str] = {}  # Docker name -> id: containers on it replaced

    def layer(self, rid: str, fallback: int = 0) -> int:
        return self.layer_of.get(rid, fallback)

    def reasons(self, rid: str, observed_hash: str | None, desired: dict[str, Any]) -> list[str]:
        """Fields changed since the last apply, when its record matches what Docker has."""
        record = self.applied.get(rid)
        if record and observed_hash and record.get("hash") == observed_hash:
            return list(diff(record.get("config") or {}, desired))
        return []

    def changes(
        self, rid: str, observed_hash: str | None, desired: dict[str, Any]
    ) -> tuple[str, ...]:
        """`field: old → new` for the fields `reasons` names (secrets masked)."""
        record = self.applied.get(rid)
        if record and observed_hash and record.get("hash") == observed_hash:
            return changes(record.get("config") or {}, desired)
        return ()

    def network(self, net: Network) -> None:
        layer = self.layer(net.id)
        if net.external:
            if net.docker_name not in self.snap.external_networks:
                self.problems.append(
                    f"{net.id}: external network {net.docker_name!r} does not exist "
                    "(create it first, or drop `external: true`)"
                )
                return
            found = self.snap.external_networks[net.docker_name]
            self.actions.append(
                Noop(net.id, "network", net.docker_name, ("external",), layer, found.id)
            )
            return
        observed = self.snap.networks.get(net.docker_name)
        if observed is None:
            if net.docker_name in self.snap.foreign_networks:
                self._foreign("network", net.id, net.docker_name)
                return
            self.actions.append(Create(net.id, "network", net.docker_name, ("missing",), layer))
            return
        changed = judge_network(net, observed)
        if changed:
            self.replaced_networks[net.docker_name] = net.id
            detach = tuple(
                (oc.id, name)
                for name, oc in sorted(self.snap.containers.items())
                if net.docker_name in oc.networks
            )
            restore = (
                ("driver", observed.driver),
                ("internal", observed.internal),
                ("subnet", observed.subnets[0] if observed.subnets else None),
                ("labels", tuple(sorted(observed.labels.items()))),
            )
            self.actions.append(
                ReplaceNetwork(
                    net.id,
                    "network",
                    net.docker_name,
                    tuple(d.field for d in changed),
                    layer,
                    changes=tuple(
                        f"{d.field}: {show(d.actual)} → {show(d.desired)}" for d in changed
                    ),
                    old_id=observed.id,
                    restore=restore,
                    detach=detach,
                )
            )
            return
        guards = self.snap.guards
        if net.guarded and guards is not None and not guards.get(net.docker_name):
            # rules lost (a reboot, a firewall reload): apply sets them again, in place
            reasons = ("host guard missing",)
            self.actions.append(
                Update(net.id, "network", net.docker_name, reasons, layer, observed.id)
            )
            return
        self.actions.append(Noop(net.id, "network", net.docker_name, (), layer, observed.id))

    def volume(self, vol: Volume) -> None:
        layer = self.layer(vol.id)
        if vol.external:
            if vol.docker_name not in self.snap.external_volumes:
                self.problems.append(
                    f"{vol.id}: external volume {vol.docker_name!r} does not exist "
                    "(create it first, or drop `external: true`)"
                )
                return
            self.actions.append(
                Noop(vol.id, "volume", vol.docker_name, ("external",), layer, vol.docker_name)
            )
            return
        owned = vol.docker_name in self.snap.volumes
        if not owned and vol.docker_name in self.snap.foreign_volumes and not vol.shared:
            self._foreign("volume", vol.id, vol.docker_name)
            return
        if owned or vol.docker_name in self.snap.foreign_volumes:  # shared: any owner will do
            self.actions.append(Noop(vol.id, "volume", vol.docker_name, (), layer, vol.docker_name))
            return
        self.actions.append(Create(vol.id, "volume", vol.docker_name, ("missing",), layer))

    def image(self, img: Image) -> None:
        layer = self.layer(img.id)
        present = img.ref in self.snap.images
        if img.pull == "always" and img.build is None:
            self.actions.append(Create(img.id, "image", img.ref, ("pull: always",), layer))
        elif present and (stale := judge_image(img, self.snap.images[img.ref])):
            self.actions.append(Create(img.id, "image", img.ref, (stale,), layer))
        elif present:
            self.actions.append(
                Noop(img.id, "image", img.ref, (), layer, self.snap.images[img.ref].id)
            )
        elif img.build is not None:
            self.actions.append(Create(img.id, "image", img.ref, ("build",), layer))
        elif img.pull == "never":
            self.problems.append(
                f"{img.id}: image {img.ref!r} is not present and `pull: never` forbids pulling "
                "(load or build it first, or allow pulls)"
            )
        else:
            self.actions.append(Create(img.id, "image", img.ref, ("pull",), layer))

    def container(self, c: Container) -> None:
        layer = self.layer(c.id, self.last)
        observed = self.snap.containers.get(c.docker_name)
        if observed is None:
            if c.docker_name in self.snap.foreign_containers:
                self._foreign("container", c.id, c.docker_name)
                return
            self.actions.append(Create(c.id, "container", c.docker_name, ("missing",), layer))
            return
        stale, drift = judge_container(
            c, observed, self.snap.images, self.networks_of(c), self.volumes, self.replaced_networks
        )
        reasons = [f"drift: {d.field}" for d in drift]
        changed: tuple[str, ...] = ()
        if CONFIG_HASH in stale:
            desired = canonical(c)
            reasons = list(self.reasons(c.id, observed.config_hash, desired) or [CONFIG_HASH])
            changed = self.changes(c.id, observed.config_hash, desired)
        if "image" in stale and "image" not in reasons:
            reasons.append("image")
        reasons += [s for s in stale if s.endswith(" replaced")]  # its network is made anew
        if drift and observed.running and D.in_place(drift):
            connect, disconnect = D.attachment_changes(self.networks_of(c), observed)
            self.actions.append(
                Update(
                    c.id,
                    "container",
                    c.docker_name,
                    tuple(reasons),
                    layer,
                    drift=drift,
                    observed_id=observed.id,
                    connect=connect,
                    disconnect=disconnect,
                )
            )
        elif reasons:
            temp = self._temp_name(c)
            if temp is None:
                return
            self.actions.append(
                Replace(
                    c.id,
                    "container",
                    c.docker_name,
                    tuple(reasons),
                    layer,
                    drift=drift,
                    changes=changed,
                    old_id=observed.id,
                    old_running=observed.running,
                    temp_name=temp,
                )
            )
        elif not observed.running:
            self.actions.append(
                Start(c.id, "container", c.docker_name, (observed.state,), layer, observed.id)
            )
        else:
            self.actions.append(Noop(c.id, "container", c.docker_name, (), layer, observed.id))

    def hook(self, hook: Hook, containers: Mapping[str, PlanAction]) -> None:
        """Hooks run after their container is (re)created, and when they change."""
        owner = containers.get(hook.container)
        if owner is None:
            return  # the container could not be planned; that problem is reported
        layer = self.layer(hook.id, self.last + 1)
        reasons: tuple[str, ...] = ()
        if owner.op in ("create", "replace"):
            reasons = (f"container {'created' if owner.op == 'create' else 'replaced'}",)
        elif self.applied:  # without a record we can't tell: assume it ran
            record = self.applied.get(hook.id)
            if record is None:
                reasons = ("new",)
            elif record.get("hash") != hook.config_hash:
                reasons = ("changed",)
        action = Create if reasons else Noop
        self.actions.append(action(hook.id, "hook", owner.docker_name, reasons, layer))

    def networks_of(self, c: Container) -> tuple[str, ...]:
        """The Docker names of the networks `c` declares."""
        return tuple(self.net_names.get(n, n) for n in c.networks)

    def _temp_name(self, c: Container) -> str | None:
        """The first free temporary name (aifo.model.temp_names); None (a problem) if none is."""
        taken = set(self.snap.containers) | set(self.snap.foreign_containers)
        free = [n for n in temp_names(c.docker_name) if n not in taken]
        if not free:
            self.problems.append(
                f"{c.id}: every temporary name for its replacement is taken "
                f"({', '.join(temp_names(c.docker_name))}): remove those leftover containers"
            )
            return None
        return free[0]

    def _foreign(self, kind: str, rid: str, name: str) -> None:
        self.problems.append(
            f"{rid}: a {kind} named {name!r} exists but does not belong to session "
            f"{self.session.name!r}; aifo never adopts or deletes it "
            "(remove or rename it, or change the session name)"
        )

    def removals(self) -> None:
        s = self.session
        wanted_c = {c.docker_name for c in s.containers}
        wanted_n = {n.docker_name for n in s.networks if not n.external}
        wanted_v = {v.docker_name for v in s.volumes if not v.external}
        last = self.last + 1
        for name, oc in sorted(self.snap.containers.items()):
            if name not in wanted_c and not is_lock(oc.labels):  # a lock is no resource
                rid = oc.labels.get(LABEL_RESOURCE, f"container/{name}")
                self.actions.append(Remove(rid, "container", name, ("not in spec",), last, oc.id))
        for name, on in sorted(self.snap.networks.items()):
            if name not in wanted_n:
                rid = on.labels.get(LABEL_RESOURCE, f"network/{name}")
                self.actions.append(Remove(rid, "network", name, ("not in spec",), last + 1, on.id))
        for name, ov in sorted(self.snap.volumes.items()):
            if name not in wanted_v and ov.labels.get(LABEL_SCOPE) != "shared":
                rid = ov.labels.get(LABEL_RESOURCE, f"volume/{name}")
                self.actions.append(Remove(rid, "volume", name, ("not in spec",), last + 2, name))


_KIND_ORDER = {"network": 0, "volume": 1, "image": 2, "container": 3, "hook": 4}


def plan(
    session: Session,
    snapshot: Snapshot,
    *,
    order: Sequence[Sequence[str]] = (),
    applied: Mapping[str, Mapping[str, Any]] | None = None,
) -> Plan:
    """Decide what apply must do. Raises PlanError listing every object that forbids the plan."""
    p = _Planner(session, snapshot, order, applied or {})
    for net in session.networks:
        p.network(net)
    for vol in session.volumes:
        p.volume(vol)
    for img in session.images:
        p.image(img)
    for c in session.containers:
        p.container(c)
    planned = {a.id: a for a in p.actions if a.kind == "container"}
    for hook in session.hooks:
        p.hook(hook, planned)
    if p.problems:
        first = "cannot plan session " + repr(session.name)
        raise PlanError("\n  ".join([first + ":", *sorted(p.problems)]))
    p.removals()
    actions = sorted(
        p.actions,
        key=lambda a: (a.op == "remove", a.layer, _KIND_ORDER[a.kind], a.id),
    )
    return Plan(session.name, tuple(actions))
