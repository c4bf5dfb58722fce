"""The workspace where a host bind cannot reach (pure).

On a Swarm node that is not this machine (`CompileContext.binds_reach` False: the engine says
so, aifo.engine.volumecopy), the workspace is a session volume seeded from a clone of the
repository (`Volume.seed`, copied in when apply creates the volume, never again), mounted
where the bind would have been. Every other bind names a host path the node does not have: it
is refused here, located, before anything is applied (Swarm would retry such a task every
5 s for ever). docs/swarm.md says why and what to do instead.
"""

from __future__ import annotations

from dataclasses import replace

from aifo.issue import Issue
from aifo.location import Location
from aifo.model import Mount, Volume, docker_name
from aifo.model.hashing import volume_hash

# A spec name `volumes:` cannot collide with by accident: aifo's own, like its labels.
WORKSPACE_VOLUME = "aifo.workspace"

BIND_HINT = (
    "use a volume (`volume: NAME`), or keep the files in the repository: the workspace is "
    "cloned to the node; or place the session on this machine"
)


def workspace_mount(target: str, source: str, read_only: bool, *, binds_reach: bool) -> Mount:
    """The workspace: a bind of `source`, or the session's workspace volume."""
    if binds_reach:
        return Mount("bind", target, source, read_only)
    return Mount("volume", target, WORKSPACE_VOLUME, read_only)


def workspace_volume(session: str, seed: str) -> Volume:
    """The session's workspace volume, seeded from host folder `seed` (the workspace's)."""
    name = docker_name(session, WORKSPACE_VOLUME)
    volume = Volume(name=WORKSPACE_VOLUME, docker_name=name, seed=seed)
    return replace(volume, config_hash=volume_hash(volume))


def refused_bind(location: Location | None, where: str, source: str) -> Issue:
    """A bind the session's node cannot have: what, and how to fix it."""
    return Issue(
        location,
        where,
        f"a bind mount of {source} needs that folder on the session's node, which is not "
        "this machine (Swarm: host binds reach only a session placed here)",
        BIND_HINT,
    )
