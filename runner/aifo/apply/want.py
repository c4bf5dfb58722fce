"""The names a session's spec would use: what `observe` asks Docker about."""

from __future__ import annotations

from aifo.engine.api import Want
from aifo.model import Session
from aifo.observed import Snapshot


def want_of(session: Session, snapshot: Snapshot | None = None) -> Want:
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
