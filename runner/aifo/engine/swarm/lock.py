"""The session lock on a Swarm: a `config` object named after the lock (`aifo-<session>.lock`).

The one-host lock is a never-started container, whose name only one daemon reserves: with
several managers (or a client on another node) that is not shared. A Swarm config lives in the
raft store, whose names are unique cluster-wide and reserved atomically (a second create of
the name answers 409: Conflict), so the same `aifo.apply.enginelock` protocol holds across the
whole Swarm. The holder record rides in the config's labels, as in the container's.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence

from aifo.engine.translate import translate
from aifo.engine.wire import Wire, ref
from aifo.errors import NotFound
from aifo.model.observed import ObservedContainer

# A config's data may not be empty; what it says is for a human running `docker config inspect`.
DATA = base64.b64encode(b"aifo session lock (aifo.apply.enginelock)\n").decode()


def create(manager: Wire, name: str, labels: Mapping[str, str]) -> str:
    """Create the lock and return its id; Conflict when the name is taken."""
    body = {"Name": name, "Labels": dict(labels), "Data": DATA}
    created = manager.call("POST", "/configs/create", op="lock session with", obj=name, body=body)
    return str(created.get("ID", "")) if isinstance(created, dict) else ""


def remove(manager: Wire, lock: str) -> None:
    """Remove by id (or name); a missing one raises NotFound."""
    reply = manager.request("DELETE", f"/configs/{ref(lock)}")
    if reply.status == 404:  # "config X not found": not a shape the shared rules know
        raise NotFound(f"unlock session with {lock}: {reply.message()}")
    if not reply.ok:
        raise translate("unlock session with", lock, reply.status, reply.message())


def is_lock_name(name: str) -> bool:
    return name.startswith("aifo-") and name.endswith(".lock")


def inspect(manager: Wire, refs: Sequence[str]) -> list[ObservedContainer]:
    """The locks among `refs` (names or ids), in the shape `EngineLock` reads a lock container:
    never started (`created`), its labels. One `GET /configs` filtered by name."""
    names = [r for r in refs if is_lock_name(r)]
    if not names:
        return []
    found = manager.call(
        "GET", "/configs", op="inspect", obj="session locks",
        query={"filters": json.dumps({"name": names})},
    )  # fmt: skip
    out: list[ObservedContainer] = []
    for item in found if isinstance(found, list) else []:
        spec = item.get("Spec") or {} if isinstance(item, dict) else {}
        name = str(spec.get("Name", ""))
        if name in names:  # the filter matches prefixes
            labels = {str(k): str(v) for k, v in (spec.get("Labels") or {}).items()}
            out.append(ObservedContainer(id=str(item.get("ID", "")), name=name, labels=labels))
    return out
