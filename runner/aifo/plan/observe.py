"""The observe stage: which names a session's spec would use, and one snapshot of them.

`observe` is one batched engine call (aifo.engine: listings by label, then one inspect per kind);
what it asks about is `want_of(session)`, so owned, foreign and external objects are all seen.
"""

from __future__ import annotations

from dataclasses import replace

from aifo.engine.api import Engine, Want
from aifo.errors import AifoError
from aifo.model import Session
from aifo.model.observed import Snapshot


def want_of(session: Session) -> Want:
    """Every name this session's spec would use, including replacement (`.next`) names."""
    return Want(
        containers=tuple(
            n for c in session.containers for n in (c.docker_name, f"{c.docker_name}.next")
        ),
        networks=tuple(n.docker_name for n in session.networks if not n.external),
        volumes=tuple(v.docker_name for v in session.volumes if not v.external),
        external_networks=tuple(n.docker_name for n in session.networks if n.external),
        external_volumes=tuple(v.docker_name for v in session.volumes if v.external),
        images=tuple(i.ref for i in session.images),
    )


def observe(engine: Engine, session: Session) -> Snapshot:
    """What the engine has for `session`: one snapshot; with the host guard's rules read back
    when a guarded network of the session exists (two `iptables -S`)."""
    snapshot = engine.observe(session.name, want_of(session))
    if not any(n.guarded and n.docker_name in snapshot.networks for n in session.networks):
        return snapshot
    try:
        guards = engine.network_guards(session.name)
    except AifoError:
        return snapshot
    return replace(snapshot, guards=guards)
