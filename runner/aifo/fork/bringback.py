"""A fork's work brought back from its volume on a node (docs/swarm.md).

A fork placed on a Swarm node that is not this machine works in a volume there, seeded from
its host clone. Before `fork ls`, `diff`, `merge`, `rm` or `exec --all` read it, the volume's
content is brought back through the node's engine (`Engine.read_volume`: an archive of the
volume, unpacked as untrusted: nothing outside the destination, no devices, bounded) into a
fresh folder beside the clone, which then replaces the clone's host copy whole. The fork is then
read as a bound one is (aifo.fork.inspect: its branch fetched, never git run in it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from aifo.errors import EngineError, ForkError
from aifo.fork.gitsteps import remove_tree
from aifo.fork.records import ForkRecord
from aifo.model import LABEL_SESSION

if TYPE_CHECKING:
    from aifo.engine.api import Engine


def refresh(record: ForkRecord, engine: Engine) -> None:
    """Replace the fork's host copy (`record.path`) with its volume's content."""
    clone = Path(record.path)
    if not clone.parent.name.endswith(".aifo-forks"):  # never anything else, whatever it says
        raise ForkError(f"refusing to replace {clone}: not a fork's clone")
    incoming = clone.with_name(f".{clone.name}.incoming")
    old = clone.with_name(f".{clone.name}.old")
    for leftover in (incoming, old):  # an interrupted refresh's: aifo's own copies
        remove_tree(leftover)
    try:
        engine.read_volume(
            record.volume, str(incoming), labels={LABEL_SESSION: record.fork_session}
        )
    except EngineError as exc:
        raise ForkError(
            f"fork {record.fork}: cannot bring its workspace back from volume "
            f"{record.volume}: {exc.message}",
            hint=exc.hint or "check that the fork's node is up (`docker node ls`)",
        ) from exc
    if clone.exists():
        os.rename(clone, old)
    os.rename(incoming, clone)
    remove_tree(old)
