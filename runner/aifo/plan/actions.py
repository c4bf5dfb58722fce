"""A plan's vocabulary: typed actions (what happens to which resource, and why) and the Plan.

Made by aifo.plan.planner (pure), run by aifo.apply, rendered by aifo.ui.plan.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from aifo.plan.compare import Difference

ActionKind = Literal["create", "replace", "update", "start", "remove", "noop"]
OPS: tuple[ActionKind, ...] = ("create", "replace", "update", "start", "remove", "noop")
Kind = Literal["network", "volume", "image", "container", "hook"]


@dataclass(frozen=True)
class Action:
    """One step of a plan: what happens to which resource, and why."""

    id: str  # graph id, e.g. "agent/codex"
    kind: Kind
    docker_name: str
    reasons: tuple[str, ...] = ()
    layer: int = 0  # index in the graph's topological layers
    # facts Docker has that the spec doesn't say (keyword-only: subclasses add positional fields)
    drift: tuple[Difference, ...] = dataclasses.field(default=(), kw_only=True)
    # each field changed since the last apply, `field: old → new`, secrets masked
    changes: tuple[str, ...] = dataclasses.field(default=(), kw_only=True)
    op: ClassVar[ActionKind]

    @property
    def symbol(self) -> str:
        return {"create": "+", "replace": "~", "update": "*", "start": ">", "remove": "-"}.get(
            self.op, " "
        )

    def line(self) -> str:
        why = f" ({', '.join(self.reasons)})" if self.reasons and self.op != "noop" else ""
        return f"{self.symbol} {self.op} {self.id}{why}"

    def detail_lines(self) -> tuple[str, ...]:
        """One line per drifted field: field, expected, found."""
        return tuple(d.line() for d in self.drift)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op}
        out.update({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        out["drift"] = [d.to_dict() for d in self.drift]
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
class ReplaceNetwork(Action):
    """A network whose settings changed (Docker can't change one in place): detach the
    containers on it, remove it, create it as declared; the containers on it are replaced.
    Undo creates the old one again (`restore`: its settings and labels) and reattaches them."""

    op: ClassVar[ActionKind] = "replace"
    old_id: str = ""
    # the old network as found: driver, internal, subnets, labels (what its undo recreates)
    restore: tuple[tuple[str, Any], ...] = ()
    detach: tuple[tuple[str, str], ...] = ()  # (container id, Docker name) attached to it


@dataclass(frozen=True)
class Update(Action):
    """Fix a running container's network attachments in place: connect the networks it lacks
    (with its aliases), disconnect the ones it shouldn't be on (the default bridge included)."""

    op: ClassVar[ActionKind] = "update"
    observed_id: str = ""
    connect: tuple[str, ...] = ()
    disconnect: tuple[str, ...] = ()


@dataclass(frozen=True)
class Start(Action):
    """An owned container, as declared, that is not running: started."""

    op: ClassVar[ActionKind] = "start"
    observed_id: str = ""


@dataclass(frozen=True)
class Remove(Action):
    """An owned object the spec no longer declares; removed at commit."""

    op: ClassVar[ActionKind] = "remove"
    observed_id: str = ""  # container/network id; a volume's name


@dataclass(frozen=True)
class Noop(Action):
    """An owned object already as declared."""

    op: ClassVar[ActionKind] = "noop"
    observed_id: str = ""


PlanAction = Create | Replace | ReplaceNetwork | Update | Start | Remove | Noop


@dataclass(frozen=True)
class Plan:
    """One apply's actions: what changes, and what already matches the spec."""

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
        out: dict[str, int] = dict.fromkeys(OPS, 0)
        for action in self.actions:
            out[action.op] += 1
        return out

    def lines(self) -> tuple[str, ...]:
        return tuple(a.line() for a in self.changes)

    def hooks_to_run(self) -> int:
        """Hooks that run: commands in a container, not resources (summaries count them apart)."""
        return sum(1 for a in self.changes if a.kind == "hook")

    def summary(self) -> str:
        if not self.has_changes:
            return "no changes"
        c: dict[str, int] = dict.fromkeys(OPS, 0)
        for action in self.actions:
            if action.kind != "hook":
                c[action.op] += 1
        parts = [f"{c[k]} to {k}" for k in OPS if c[k] and k != "noop"]
        hooks = self.hooks_to_run()
        if hooks:
            parts.append(f"{hooks} hook{'s' if hooks > 1 else ''} to run")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "changes": self.has_changes,
            "summary": self.counts(),
            "actions": [a.to_dict() for a in self.actions],
        }
