"""Canonical JSON and config hashes: sha256 of `json.dumps(sort_keys, compact separators)`.

A hash changes iff the canonical value changes: key order and spelled-out defaults never matter,
because values are hashed after compile has applied every default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


_SCALARS = (str, int, float, bool, type(None))
_FIELDS: dict[type, tuple[str, ...]] = {}


def plain(value: Any) -> Any:
    """Dataclasses → dicts, tuples → lists, recursively; like `dataclasses.asdict` without its
    deep copies (it dominated compile time on a 1,000-container session)."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    cls = type(value)
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(value))
    return {n: plain(getattr(value, n)) for n in names}


def config_hash(value: Any) -> str:
    """sha256 of the canonical JSON of `value` (dataclasses are turned into dicts first)."""
    return sha256_hex(canonical_json(plain(value)))
