"""aifo's label contract: every `io.aifo.*` label key, and the label sets aifo writes.

Ownership is decided by labels, never by name alone: an object labelled
`io.aifo.session=<s>` belongs to session `s`. The session lock (aifo.apply.enginelock) is a
labelled object too, told apart by its `io.aifo.resource` value, so observe, plan, status and
destroy never mistake it for a resource of the spec.
"""

from __future__ import annotations

from collections.abc import Mapping

PREFIX = "io.aifo."

SESSION = "io.aifo.session"
RESOURCE = "io.aifo.resource"  # the graph id, `<kind>/<name>`
HASH = "io.aifo.config-hash"
VERSION = "io.aifo.version"
DEPENDS = "io.aifo.depends-on"  # containers: the resource ids it needs (destroy order)
SCOPE = "io.aifo.scope"  # volumes: `shared` = one volume for every session, never removed
STAND_IN = "io.aifo.stand-in"  # images: an offline stand-in for a public image

# The session lock: one container per session, its holder described by these labels.
LOCK_RESOURCE = "lock/session"
LOCK_HOLDER = "io.aifo.lock.holder"  # JSON: user, host, pid, command, acquired, lease_s, ...


def aifo_labels(
    session: str,
    rid: str,
    config_hash: str,
    version: str,
    user: tuple[tuple[str, str], ...] = (),
) -> dict[str, str]:
    """The labels on an object aifo creates: the user's, then aifo's (aifo's win)."""
    labels = dict(user)
    labels.update({SESSION: session, RESOURCE: rid, HASH: config_hash, VERSION: version})
    return labels


def owned_by(labels: Mapping[str, str], session: str) -> bool:
    return labels.get(SESSION) == session


def is_lock(labels: Mapping[str, str]) -> bool:
    """The session lock object: never a resource of the spec."""
    return labels.get(RESOURCE) == LOCK_RESOURCE


def config_hash(labels: Mapping[str, str]) -> str | None:
    return labels.get(HASH)
