"""Progress events of an apply, destroy or recovery (rendered by aifo.ui.progress / ui.events).

`event` is one of: action.start, action.progress (a build step: data step, steps, instruction),
action.done, action.failed, rollback.start, undo.done,
undo.failed, apply.done, recover.start, recover.done, commit.start, remove.done, note.
Fields never hold secret values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """One progress event of an apply or destroy (rendered by aifo.ui.events)."""

    event: str
    id: str | None = None
    op: str | None = None
    kind: str | None = None
    docker_name: str | None = None
    message: str | None = None
    duration_s: float | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.event}
        for key in ("id", "op", "kind", "docker_name", "message", "duration_s"):
            value = getattr(self, key)
            if value is not None:
                out[key] = round(value, 3) if isinstance(value, float) else value
        out.update(self.data)
        return out


Emit = Callable[[Event], None]  # receives progress events
Notify = Callable[[str], None]  # receives one-line notes for the user (recovery, signals)


def ignore(event: Event) -> None:
    """An Emit that drops everything."""
