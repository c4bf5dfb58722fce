"""The `aifo` console entry point: `aifo exec NAME -- CMD` on a spec compiled before takes a
fast path (aifo.commands.fastexec) that loads neither click nor the spec stage; everything else, and
every case the fast path is unsure of, goes to the full command line (aifo.cli). Nothing here
patches the standard library or loads code from disk (docs/security.md)."""

from __future__ import annotations

import sys


def main() -> None:
    from aifo.gcpause import space_out

    space_out()  # before the imports: they are the first burst
    args = sys.argv[1:]
    if "exec" in args[:5]:
        from aifo.commands.fastexec import try_exec

        code = try_exec(args)
        if code is not None:
            sys.exit(code)
    from aifo.cli import main as full

    full()
