"""The observe stage: which names a session's spec would use, one snapshot of them, and the
engine's facts compile needs (AppArmor), so compile and the spec stage never ask an engine.

`observe` is one batched engine call (aifo.engine: listings by label, then one inspect per kind);
what it asks about is `want_of(session)`, so owned, foreign and external objects are all seen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from aifo.engine.api import Engine, Want
from aifo.errors import AifoError
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


def engine_apparmor(cache_dir: Path, probe: Callable[[], tuple[str, ...]] | None) -> bool:
    """Whether the engine reports AppArmor (compile then confines containers with
    `docker-default`). Cached per endpoint (aifo.engine.facts), so a no-op apply asks nothing;
    on a miss `probe` (the command's engine's `security_options`) is asked; None: the cache
    only (an unknown answer is no AppArmor)."""
    from aifo.engine import facts

    if probe is None:
        found = facts.cached_security_options(cache_dir)
    else:
        found = facts.security_options(cache_dir, probe=probe)
    return facts.apparmor_enabled(found or ())
