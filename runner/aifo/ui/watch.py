"""What `aifo apply --watch` shows: a compact live view for people, JSON Lines for machines.

Both implement aifo.watch.WatchView. The text view keeps one status line alive on a terminal
(what is watched, what the last round did) and prints one line per round above it; off a
terminal it prints the same lines without the status.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from aifo.apply.events import Event
from aifo.ui.errors import issue_dict, render_issues, summary
from aifo.ui.lines import describe
from aifo.watch.core import WatchSet
from aifo.watch.loop import Applied, Failed, Invalid, NoChange, RoundResult

if TYPE_CHECKING:
    from pathlib import Path

WriteRecord = Callable[[dict[str, Any]], None]  # one JSON object out (aifo.ui.events.JsonLines)


def _rel(path: str, base: Path | None) -> str:
    if base is None:
        return path
    try:
        return os.path.relpath(path, base)
    except ValueError:
        return path


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


class TextWatchView:
    """Rich output: a live status line on a terminal, plain lines otherwise."""

    def __init__(self, console: Console, *, base_dir: Path | None = None) -> None:
        self.console = console
        self.base_dir = base_dir
        self._status: Status | None = None
        self._ws: WatchSet | None = None
        self._last = "starting"

    def _line(self, text: str, style: str = "") -> None:
        stamp = time.strftime("%H:%M:%S")
        self.console.print(f"[dim]{stamp}[/dim] {text}", style=style, highlight=False)

    def _show(self, text: str) -> None:
        if not self.console.is_terminal:
            return
        if self._status is None:
            self._status = self.console.status(text, spinner="dots")
            self._status.start()
        else:
            self._status.update(text)

    def _idle(self) -> None:
        if self._ws is None:
            self._show(f"last: {self._last}")
            return
        count = len(self._ws.paths())
        self._show(f"watching {_plural(count, 'path')} · last: {self._last} · Ctrl-C to stop")

    def watching(self, ws: WatchSet) -> None:
        if self._ws is None:
            shown = ", ".join(_rel(p, self.base_dir) for p in ws.paths())
            self._line(f"watching {escape(shown)}")
        elif ws != self._ws:
            added = sorted(set(ws.paths()) - set(self._ws.paths()))
            removed = sorted(set(self._ws.paths()) - set(ws.paths()))
            parts = [f"+{_rel(p, self.base_dir)}" for p in added]
            parts += [f"-{_rel(p, self.base_dir)}" for p in removed]
            self._line(f"now watching {escape(' '.join(parts))}")
        self._ws = ws
        self._idle()

    def round_started(self, number: int, changed: tuple[str, ...]) -> None:
        if changed:
            names = ", ".join(_rel(p, self.base_dir) for p in changed)
            self._line(f"round {number}: {escape(names)} changed")
        self._show(f"round {number}: resolving, planning, applying…")

    def round_finished(self, result: RoundResult) -> None:
        outcome, took = result.outcome, f"{result.duration_s:.1f}s"
        n = result.number
        if isinstance(outcome, Invalid):
            self.console.print(escape(render_issues(outcome.issues)), style="red", highlight=False)
            self._line(
                f"round {n}: invalid ({summary(len(outcome.issues))}); "
                "the session was left as it is; save again to retry",
                style="red",
            )
            self._last = "invalid"
        elif isinstance(outcome, NoChange):
            self._line(f"round {n}: no changes", style="dim")
            self._last = "no changes"
        elif isinstance(outcome, Applied):
            self._line(
                f"round {n}: applied {_plural(len(outcome.changes), 'change')} in {took}",
                style="green",
            )
            for change in outcome.changes:
                self.console.print(f"  {escape(change)}", highlight=False)
            self._last = f"applied {time.strftime('%H:%M:%S')}"
        elif isinstance(outcome, Failed):
            self.console.print(escape(str(outcome.error)), style="red", highlight=False)
            self._line(f"round {n}: failed and rolled back; still watching", style="red")
            self._last = "failed"
        self._idle()

    def event(self, event: Event) -> None:
        """An apply/destroy progress event (from worker threads): shown in the status line."""
        if event.event == "action.start":
            self._show(f"applying: {describe(event)}…")
        elif event.event == "rollback.start":
            self._show("rolling back…")

    def note(self, message: str) -> None:
        self._line(escape(message), style="yellow")

    def stopped(self, *, destroyed: bool) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        if destroyed:
            self._line("stopped watching; the session was destroyed (--down-on-exit)")
        else:
            self._line("stopped watching; the session keeps running (`aifo destroy` removes it)")


class JsonWatchView:
    """`watch.*` events, one JSON object each (`{"event": name, **fields}`) through `write`."""

    def __init__(self, write: WriteRecord) -> None:
        self.write = write
        self._ws: WatchSet | None = None

    def emit(self, name: str, fields: Mapping[str, Any]) -> None:
        self.write({"event": name, **fields})

    def watching(self, ws: WatchSet) -> None:
        if ws != self._ws:
            self.emit("watch.watching", {"paths": list(ws.paths())})
        self._ws = ws

    def round_started(self, number: int, changed: tuple[str, ...]) -> None:
        self.emit("watch.round", {"round": number, "changed": list(changed)})

    def round_finished(self, result: RoundResult) -> None:
        outcome = result.outcome
        base: dict[str, Any] = {"round": result.number, "duration_s": round(result.duration_s, 3)}
        if isinstance(outcome, Invalid):
            self.emit("watch.invalid", {**base, "errors": [issue_dict(i) for i in outcome.issues]})
        elif isinstance(outcome, NoChange):
            self.emit("watch.nochange", base)
        elif isinstance(outcome, Applied):
            # `changes` is a count in every event (as in apply.done); the lines are `actions`
            lines = list(outcome.changes)
            self.emit("watch.applied", {**base, "changes": len(lines), "actions": lines})
        elif isinstance(outcome, Failed):
            self.emit("watch.failed", {**base, "error": str(outcome.error)})

    def stopped(self, *, destroyed: bool) -> None:
        self.emit("watch.stopped", {"destroyed": destroyed})
