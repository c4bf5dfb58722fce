"""What aifo learned about Swarm nodes: whether each gave its tasks no-new-privileges, and when.

`<state>/swarm-nodes.json`, one small JSON record: `{"version": 1, "nodes": {ID: {"hostname": …,
"nnp": true|false, "at": unix seconds}}}`. Swarm placement prefers nodes seen to give it and
avoids, for a while, nodes seen not to (aifo.engine.swarm.placement); the verification on every
task stays the guarantee, so these facts only steer. Written atomically, read without following
links (aifo.state.private), bounded in size and in nodes, and validated field by field: a record
that is not exactly this shape is refused (StateError naming the file) rather than half-trusted.
Nothing in it is ever run or evaluated.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass

from aifo.errors import StateError
from aifo.state.folder import checked_path
from aifo.state.private import read_bytes, write_atomic

RECORD = "swarm-nodes.json"
VERSION = 1
CAP = 256 * 1024  # bytes: MAX_NODES records are ~60 KiB
MAX_NODES = 512  # the newest are kept: a team's swarm, many times over
_ID = re.compile(r"[a-z0-9]{1,64}\Z")
_HOSTNAME_MAX = 253
# another process may still race this one: a lost fact only steers placement less
_WRITING = threading.Lock()


@dataclass(frozen=True)
class NodeFact:
    """One node's last verified fact: its tasks had NoNewPrivs 1 (`nnp`) or not, at `at`."""

    node_id: str
    hostname: str
    nnp: bool
    at: int  # unix seconds


def record_path() -> str:
    return os.path.join(checked_path(), RECORD)


def _refuse(path: str, why: str) -> StateError:
    return StateError(
        f"the Swarm node facts {path} are not aifo's record ({why})",
        hint=f"remove it (rm {path}); aifo records the facts again on the next apply",
    )


def parse(data: bytes, path: str = RECORD) -> dict[str, NodeFact]:
    """The record's facts by node id; StateError for anything but the exact shape."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _refuse(path, "not JSON") from None
    if not isinstance(doc, dict) or set(doc) != {"version", "nodes"}:
        raise _refuse(path, "not a {version, nodes} object")
    if doc["version"] != VERSION:
        raise _refuse(path, f"version {doc['version']!r}, expected {VERSION}")
    nodes = doc["nodes"]
    if not isinstance(nodes, dict) or len(nodes) > MAX_NODES:
        raise _refuse(path, f"`nodes` is not an object of at most {MAX_NODES} nodes")
    out: dict[str, NodeFact] = {}
    for node_id, fact in nodes.items():
        if not _ID.match(node_id):
            raise _refuse(path, f"{node_id[:80]!r} is not a node id")
        if not isinstance(fact, dict) or set(fact) != {"hostname", "nnp", "at"}:
            raise _refuse(path, f"node {node_id}: not a {{hostname, nnp, at}} object")
        hostname, nnp, at = fact["hostname"], fact["nnp"], fact["at"]
        if not isinstance(hostname, str) or len(hostname) > _HOSTNAME_MAX:
            raise _refuse(path, f"node {node_id}: hostname is not a short string")
        if not hostname.isprintable():
            raise _refuse(path, f"node {node_id}: hostname has control characters")
        if not isinstance(nnp, bool):
            raise _refuse(path, f"node {node_id}: nnp is not true or false")
        if not isinstance(at, int) or isinstance(at, bool) or not 0 <= at < 1 << 40:
            raise _refuse(path, f"node {node_id}: at is not a time in unix seconds")
        out[node_id] = NodeFact(node_id, hostname, nnp, at)
    return out


def read_facts() -> dict[str, NodeFact]:
    """The recorded facts by node id ({} when none were recorded)."""
    path = record_path()
    try:
        data = read_bytes(path, CAP)
    except OSError as exc:  # a link, not ours, too big (aifo.state.private.Unsafe is one)
        raise StateError(
            f"cannot read the Swarm node facts {path}: {exc}",
            hint=f"remove it (rm {path}); aifo records the facts again on the next apply",
        ) from None
    return {} if data is None else parse(data, path)


def dump(facts: dict[str, NodeFact]) -> bytes:
    """The record for `facts`, the MAX_NODES newest kept."""
    newest = sorted(facts.values(), key=lambda f: (f.at, f.node_id))[-MAX_NODES:]
    nodes = {
        f.node_id: {"hostname": f.hostname, "nnp": f.nnp, "at": f.at}
        for f in sorted(newest, key=lambda f: f.node_id)
    }
    return json.dumps({"version": VERSION, "nodes": nodes}, indent=1).encode() + b"\n"


def record_fact(node_id: str, hostname: str, *, nnp: bool, now: float | None = None) -> NodeFact:
    """Record what a task on `node_id` showed. A record aifo cannot trust is refused (StateError),
    never overwritten: the user sees why first."""
    if not _ID.match(node_id):
        raise ValueError(f"not a node id: {node_id!r}")
    name = hostname[:_HOSTNAME_MAX] if hostname.isprintable() else ""
    fact = NodeFact(node_id, name, nnp, int(time.time() if now is None else now))
    with _WRITING:  # sessions applied at once (forks) verify their tasks on several threads
        facts = read_facts()
        facts[node_id] = fact
        path = record_path()
        try:
            write_atomic(path, dump(facts))
        except OSError as exc:
            raise StateError(f"cannot write the Swarm node facts {path}: {exc}") from exc
    return fact
