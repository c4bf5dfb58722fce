"""`aifo` as if every session's node were not this machine (test-only), on the local engine:

    python tests/fork/elsewhere.py ARGS...

`Engine.binds_reach` answers False, as the Swarm adapter does for a node elsewhere, so each
workspace is a volume seeded from a clone and brought back through the engine: fork mode's
Swarm path, exercised without a Swarm (tests/swarm/ runs it on a real one).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def _main(argv: list[str]) -> None:
    from aifo import pipeline
    from aifo.cli import main

    pipeline.binds_reach = lambda _engine, _session: False  # type: ignore[assignment]
    main(argv)


if __name__ == "__main__":
    _main(sys.argv[1:])
