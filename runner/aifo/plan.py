"""The planner: (desired Session, observed Snapshot) -> Plan of typed actions with reasons. Pure.

Rules, per resource (see docs/reconcile.md):

- missing → create; an object with the name but without this session's label → PlanError.
- container: config hash differs (or its local image changed) → replace; same hash but not
  running → start; else noop.
- hook: runs (create) when its container is created or replaced, or when the hook is new or
  changed since the last apply; else noop.
- network: driver/internal/subnet/labels differ → PlanError (a network can't be changed in place
  without detaching every container; remove it from the spec, apply, re-add it). `external`
  networks and volumes must exist and are never touched.
- owned objects the spec no longer declares → remove (run by apply's commit phase only).

Field-level reasons come from diffing the last-applied canonical config (`applied.json`, kept by
aifo.apply.applied) against the desired one; when that record is missing or stale the reason
is just `config-hash`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from aifo.errors import PlanError
from aifo.model import Container, Hook, Image, Network, Resource, Session, Volume
from aifo.observed import Snapshot

ActionKind = Literal["create", "replace", "start", "remove", "noop"]
Kind = Literal["network", "volume", "image", "container", "hook"]

CONFIG_HASH = "config-hash"
NETWORK_HINT = (
    "a network can't be changed in place: remove it from the spec, apply, then add it back "
    "(or rename it)"
)


@dataclass(frozen=True)
class Action:
    """One step of a plan: what happens to which resource, and why."""

    id: str  # graph id, e.g. "agent/codex"
    kind: Kind
    docker_name: str
    reasons: tuple[str, ...] = ()
    layer: int = 0  # index in the graph's topological layers
    op: ClassVar[ActionKind]

    @property
    def symbol(self) -> str:
        return {"create": "+", "replace": "~", "start": ">", "remove": "-", "noop": " "}[self.op]

    def line(self) -> str:
        why = f" ({', '.join(self.reasons)})" if self.reasons and self.op != "noop" else ""
        return f"{self.symbol} {self.op} {self.id}{why}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op}
        out.update(dataclasses.asdict(self))
        for key, value in list(out.items()):
            if isinstance(value, tuple):
                out[key] = list(value)
        return out


@dataclass(frozen=True)
class Create(Action):
    """Create a network, volume or container; pull or build an image; run a hook."""

    op: ClassVar[ActionKind] = "create"


@dataclass(frozen=True)
class Replace(Action):
    """Create `temp_name`, stop the old container, start the new; commit renames and removes."""

    op: ClassVar[ActionKind] = "replace"
    old_id: str = ""
    old_running: bool = False
    temp_name: str = ""


@dataclass(frozen=True)
class Start(Action):
    op: ClassVar[ActionKind] = "start"
    observed_id: str = ""


@dataclass(frozen=True)
class Remove(Action):
    """An owned object the spec no longer declares; removed at commit."""

    op: ClassVar[ActionKind] = "remove"
    observed_id: str = ""  # container/network id; a volume's name


@dataclass(frozen=True)
class Noop(Action):
    op: ClassVar[ActionKind] = "noop"
    observed_id: str = ""


PlanAction = Create | Replace | Start | Remove | Noop


@dataclass(frozen=True)
class Plan:
    session: str
    actions: tuple[PlanAction, ...]

    @property
    def changes(self) -> tuple[PlanAction, ...]:
        return tuple(a for a in self.actions if a.op != "noop")

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def destructive(self) -> tuple[PlanAction, ...]:
        """Actions that replace or remove something (apply asks before running them)."""
        return tuple(a for a in self.actions if a.op in ("replace", "remove"))

    def counts(self) -> dict[str, int]:
        out = {"create": 0, "replace": 0, "start": 0, "remove": 0, "noop": 0}
        for action in self.actions:
            out[action.op] += 1
        return out

    def lines(self) -> tuple[str, ...]:
        return tuple(a.line() for a in self.changes)

    def summary(self) -> str:
        c = self.counts()
        if not self.has_changes:
            return "no changes"
        parts = [f"{c[k]} to {k}" for k in ("create", "replace", "start", "remove") if c[k]]
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "changes": self.has_changes,
            "summary": self.counts(),
            "actions": [a.to_dict() for a in self.actions],
        }


# -- canonical config (for field-level reasons) ----------------------------------------------


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


def canonical(resource: Resource) -> dict[str, Any]:
    """A flat `field -> JSON value` view of a resource, secrets only as digests or sources.

    Dotted keys for mappings (`env.RUST_LOG`, `labels.team`) so a diff names the exact entry
    that changed.
    """
    out: dict[str, Any] = {}
    for f in dataclasses.fields(resource):
        if f.name in ("config_hash", "name", "docker_name", "role"):
            continue
        value = getattr(resource, f.name)
        if f.name == "env":
            for var in value:
                out[f"env.{var.key}"] = (
                    f"secret:{var.digest or var.from_host or var.from_file or ''}"
                    if var.secret
                    else var.value
                )
        elif f.name == "labels":
            for key, label in value:
                out[f"labels.{key}"] = label
        else:
            out[f.name] = _jsonable(value)
    return out


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys whose values differ (added, removed or changed), sorted."""
    return tuple(sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k)))


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

    def layer(self, rid: str, fallback: int = 0) -> int:
        return self.layer_of.get(rid, fallback)

    def reasons(self, rid: str, observed_hash: str | None, desired: dict[str, Any]) -> list[str]:
        """Fields changed since the last apply, when its record matches what Docker has."""
        record = self.applied.get(rid)
        if record and observed_hash and record.get("hash") == observed_hash:
            return list(diff(record.get("config") or {}, desired))
        return []

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
        have = {
            "driver": observed.driver,
            "internal": observed.internal,
            "subnet": observed.subnets[0] if observed.subnets else None,
        }
        want: dict[str, Any] = {"driver": net.driver, "internal": net.internal}
        want["subnet"] = net.subnet
        if net.subnet is None:  # Docker picks one; any is fine
            have["subnet"] = None
        for key, value in net.labels:
            want[f"labels.{key}"] = value
            have[f"labels.{key}"] = observed.labels.get(key)
        changed = diff(have, want)
        if changed:
            self.problems.append(
                f"{net.id}: network {net.docker_name} differs from the spec "
                f"({', '.join(changed)}); hint: {NETWORK_HINT}"
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
        reasons: list[str] = []
        if observed.config_hash != c.config_hash:
            fields = self.reasons(c.id, observed.config_hash, canonical(c))
            reasons = fields or [CONFIG_HASH]
        image = self.snap.images.get(c.image)
        if image and observed.image_id and image.id and observed.image_id != image.id:
            if "image" not in reasons:
                reasons.append("image")
        if reasons:
            temp = self._temp_name(c.docker_name)
            self.actions.append(
                Replace(
                    c.id,
                    "container",
                    c.docker_name,
                    tuple(reasons),
                    layer,
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

    def _temp_name(self, name: str) -> str:
        taken = set(self.snap.containers) | set(self.snap.foreign_containers)
        candidate, n = f"{name}.next", 1
        while candidate in taken:
            n += 1
            candidate = f"{name}.next{n}"
        return candidate

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
            if name not in wanted_c:
                rid = oc.labels.get("io.aifo.resource", f"container/{name}")
                self.actions.append(Remove(rid, "container", name, ("not in spec",), last, oc.id))
        for name, on in sorted(self.snap.networks.items()):
            if name not in wanted_n:
                rid = on.labels.get("io.aifo.resource", f"network/{name}")
                self.actions.append(Remove(rid, "network", name, ("not in spec",), last + 1, on.id))
        for name, ov in sorted(self.snap.volumes.items()):
            if name not in wanted_v and ov.labels.get("io.aifo.scope") != "shared":
                rid = ov.labels.get("io.aifo.resource", f"volume/{name}")
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
