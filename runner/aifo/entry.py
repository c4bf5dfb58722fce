"""The `aifo` console entry point: `aifo exec NAME -- CMD` on a spec compiled before takes a
fast path (aifo.commands.fastexec) that loads neither click nor the spec stage; everything else, and
every case the fast path is unsure of, goes to the full command line (aifo.cli). Nothing here
patches the standard library or loads code from disk (docs/security.md)."""

from __future__ import annotations

import gc
import sys

# The cyclic GC's first generation runs every 700 net allocations by default: 40-50 times
# (5-9 ms) while a command imports its ~300 modules and compiles the spec, finding next to
# nothing (aifo's objects are trees and frozen records). A longer interval leaves a one-shot
# command none to run; a long one (`apply --watch`, a long `exec`) still collects, in fewer,
# larger rounds. Measured in docs/bench.md ("Time to a first command"); mypy does the same.
GC_FIRST_GENERATION = 50_000


def main() -> None:
    gc.set_threshold(GC_FIRST_GENERATION, *gc.get_threshold()[1:])
    args = sys.argv[1:]
    if "exec" in args[:5]:
        from aifo.commands.fastexec import try_exec

        code = try_exec(args)
        if code is not None:
            sys.exit(code)
    from aifo.cli import main as full

    full()
