"""Routing for one `aifo exec`/`run`/`shell`: a router while the process lives, shims on PATH."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from aifo.engine.api import Engine
from aifo.model import Container, Session
from aifo.route.layout import SHIM_DIR

Wrap = Callable[[Sequence[str]], tuple[str, ...]]

# The shims go first on PATH inside the image's own PATH (only a POSIX shell is needed).
PATH_WRAPPER = f'PATH="{SHIM_DIR}:$PATH"; export PATH; exec "$@"'


def with_shims(argv: Sequence[str]) -> tuple[str, ...]:
    return ("sh", "-c", PATH_WRAPPER, "aifo", *argv)


@contextmanager
def routed(
    engine: Engine, session: Session, agent: Container, secrets: Sequence[str]
) -> Iterator[Wrap]:
    """Serve `agent`'s routes until the block ends; yields how to wrap the exec's argv."""
    if not agent.routes:
        yield tuple
        return
    from aifo.route.router import Router

    router = Router(
        engine, session, agent, spec_file=session.spec_file or "aifo.yaml", secrets=secrets
    )
    for line in router.warnings():
        print(line, file=sys.stderr)
    with router:
        yield with_shims
