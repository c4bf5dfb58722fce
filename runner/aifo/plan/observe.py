"""The observe stage: which names a session's spec would use, and one snapshot of them.

`observe` is one batched engine call (aifo.engine: listings by label, then one inspect per kind);
what it asks about is `want_of(session)`, so owned, foreign and external objects are all seen.
"""

from __future__ import annotations

from aifo.engine.api import Engine, Want
from aifo.model import Session, temp_names
from aifo.model.observed import Snapshot


def want_of(session: Session) -> Want:
    """Every name this session's spec would use, including every temporary name a
    replacement may take (aifo.model.temp_names), so the planner knows which are free."""
    return Want(
        containers=tuple(
            n for c in session.containers for n in (c.docker_name, *temp_names(c.docker_name))
        ),
        networks=tuple(n.docker_name for n in session.networks if not n.external),
        volumes=tuple(v.docker_name for v in session.volumes if not v.external),
        external_networks=tuple(n.docker_name for n in session.networks if n.external),
        external_volumes=tuple(v.docker_name for v in session.volumes if v.external),
        images=tuple(i.ref for i in session.images),
    )


def observe(engine: Engine, session: Session) -> Snapshot:
    """What the engine has for `session`: one snapshot."""
    return engine.observe(session.name, want_of(session))
