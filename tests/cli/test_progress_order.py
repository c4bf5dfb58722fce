"""On a terminal, a rollback's lines come after the final progress table, in order (issue 23)."""

from __future__ import annotations

import io
import re

from rich.console import Console

from aifo.apply.events import Event
from aifo.ui.progress import Progress


def test_rollback_lines_print_below_the_final_table() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    with Progress(console) as progress:
        progress(Event("action.start", id="service/web", op="start_containers"))
        progress(Event("action.failed", id="service/web", op="start_containers", message="x"))
        progress(Event("rollback.start", data={"steps": 2}))
        progress(Event("undo.done", id="service/web", op="discard_containers"))
        progress(Event("undo.done", id="network/web", op="discard_network"))
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    last_row = text.rindex("✗ service/web start")
    rolling = text.index("rolling back...")
    first_undo = text.index("undone  service/web")
    assert last_row < rolling < first_undo < text.index("undone  network/web")
    assert text.count("undone  service/web") == 1  # printed once, not redrawn with the table
