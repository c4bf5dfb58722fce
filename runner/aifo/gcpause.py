"""Pausing the cyclic garbage collector around a burst of small, acyclic allocations.

Resolving, compiling and layering a spec allocate many small objects that form no cycles; the
cyclic GC would only rescan them again and again (measured: bench_validate, bench_apply).
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
