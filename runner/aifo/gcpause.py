"""Pausing the cyclic garbage collector around a burst of small, acyclic allocations, and
spacing out its collections for a whole command.

Resolving, compiling and layering a spec allocate many small objects that form no cycles; the
cyclic GC would only rescan them again and again (measured: bench_validate, bench_apply).
Importing a command's ~300 modules is such a burst too, before any of them could pause it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic GC off for the block, back on after it (if it was on before)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# The first generation runs every 700 net allocations by default: 40-50 times (5-9 ms) while a
# command imports its modules and compiles the spec, finding next to nothing (aifo's objects are
# trees and frozen records). At this interval a one-shot command runs none; a long one (`apply
# --watch`, a long `exec`) still collects, in fewer, larger rounds. mypy does the same.
FIRST_GENERATION = 50_000


def space_out() -> None:
    """For the whole process (the console entry calls it first): measured on a one-agent apply,
    -11 ms (docs/bench.md, "Time to a first command")."""
    gc.set_threshold(FIRST_GENERATION, *gc.get_threshold()[1:])
