"""Apply layers kept between runs, so a no-op apply never imports networkx: plain JSON in
`<state>/cache/layers/`, one file per graph structure, at most MAX_ENTRIES (the oldest go).

The key is aifo.model.graph.layers_key (the resource ids and edges: all the layers depend on).
A file is read as untrusted input: a link, another user's file or anything but a list of lists
of resource ids is a miss. Only acyclic answers are ever written (layers raised otherwise).
"""

from __future__ import annotations

import json
import os

from aifo.errors import StateError
from aifo.state.folder import cache_dir
from aifo.state.private import evict, read_bytes, write_atomic

MAX_ENTRIES = 32
CAP = 4 << 20  # bytes
_PREFIX = "layers-"


def _file(key: str, *, create: bool) -> str:
    if not key.isalnum():
        raise ValueError(f"not a layers key: {key!r}")
    return os.path.join(cache_dir("layers", create=create), f"{_PREFIX}{key}.json")


def read(key: str) -> list[list[str]] | None:
    try:
        value = json.loads(read_bytes(_file(key, create=False), CAP) or b"null")
    except (OSError, ValueError, RecursionError):  # Unsafe is an OSError: a miss
        return None
    if isinstance(value, list) and all(
        isinstance(layer, list) and all(type(rid) is str for rid in layer) for layer in value
    ):
        return value
    return None


def write(key: str, order: list[list[str]]) -> None:
    """Best effort, then evict past MAX_ENTRIES: a failure only costs the next run networkx."""
    try:
        path = _file(key, create=True)
        write_atomic(path, json.dumps(order).encode())
        evict(os.path.dirname(path), MAX_ENTRIES, lambda name: name.startswith(_PREFIX))
    except (OSError, StateError):
        return
