"""Why a hook failed when its container died under it (e.g. the egress proxy refused its rules).

A hook that finds its container gone or dying says little by itself ("exited with code 137",
"container is not running"); the container's exit code and last output say why. The rollback
removes that container, so the report is the user's only chance to see them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from aifo.engine.api import Engine
from aifo.errors import AifoError
from aifo.masking import mask_values

KILLED = 137  # a hook's exit code when its container died under it
DYING_SETTLE_S = 3.0  # how long a container that is shutting down may take to be seen stopped
LOG_LINES = 15


def why_stopped(
    engine: Engine, rid: str, ref: str, secrets: Iterable[str], settle_s: float = 0.0
) -> str:
    """`\n<rid> stopped (exit code N); its last output: ...`, or "" while it runs (after
    waiting up to `settle_s` for it to stop) or when it cannot be inspected."""
    deadline = time.monotonic() + settle_s
    try:
        while True:
            found = engine.inspect_containers([ref])
            if not found:
                return ""
            if not found[0].running:
                break
            if time.monotonic() >= deadline:
                return ""
            time.sleep(0.1)
        logs = mask_values(engine.log_tail(ref, lines=LOG_LINES)[-1500:], secrets)
    except AifoError:
        return ""
    head = f"\n{rid} stopped (exit code {found[0].exit_code})"
    return head + (f"; its last output:\n{logs}" if logs else "")
