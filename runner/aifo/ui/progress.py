"""Live progress of an apply/destroy/recovery on a terminal: a rich live table (off a terminal,
plain lines: `aifo.ui.lines`). Implements `aifo.apply.events.Emit`; safe to call from worker
threads."""

from __future__ import annotations

import threading
import time
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from aifo.apply.events import Event
from aifo.ui.lines import VERB, describe, plain_line


def _short(text: str, width: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


class Progress:
    """Use as a context manager; call it with events."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live_mode = console.is_terminal
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], tuple[str, float, float | None]] = {}
        self._detail: dict[tuple[str, str], str] = {}  # a running build's current step
        self._live: Live | None = None

    def __enter__(self) -> Progress:
        if self.live_mode:
            # Rendered anew on every refresh, so a running step's timer moves between events.
            self._live = Live(
                console=self.console,
                get_renderable=self._table,
                refresh_per_second=10,
                transient=False,
            )
            self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(exc_type, exc, tb)
            self._live = None

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 1))
        now = time.monotonic()
        for (rid, op), (state, started, took) in list(self._rows.items()):
            mark = {"running": "[yellow]…[/]", "done": "[green]✓[/]", "failed": "[red]✗[/]"}[state]
            secs = took if took is not None else now - started
            verb = VERB.get(op, op)
            detail = self._detail.get((rid, op), "") if state == "running" else ""
            table.add_row(
                mark, escape(rid), escape(verb), f"[dim]{secs:.1f}s[/]", f"[dim]{escape(detail)}[/]"
            )
        return table

    def _settle(self) -> None:
        """End the live table where it stands: what follows (a rollback's lines) prints below
        it, in the order it happened, instead of above a table that keeps redrawing."""
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(None, None, None)
            self._live = None

    def __call__(self, event: Event) -> None:
        with self._lock:
            if event.event == "rollback.start":
                self._settle()
            if self._live is None:
                line = plain_line(event)
                if line:
                    self.console.print(line, highlight=False, markup=False, soft_wrap=True)
                return
            key = (event.id or "", event.op or "")
            if event.event == "action.start":
                self._rows[key] = ("running", time.monotonic(), None)
            elif event.event == "action.progress":
                self._detail[key] = _short(event.message or "", 60)
            elif event.event in ("action.done", "action.failed"):
                _state, started, _ = self._rows.get(key, ("running", time.monotonic(), None))
                state = "done" if event.event == "action.done" else "failed"
                self._rows[key] = (state, started, event.duration_s)
                if event.event == "action.failed":
                    self._live.console.print(f"[red]failed[/] {escape(describe(event))}")
            else:
                line = plain_line(event)
                if line:
                    self._live.console.print(escape(line), highlight=False)
            self._live.update(self._table())
