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


def config_hash(value: Any) -> str:
    """sha256 of the canonical JSON of `value` (dataclasses are turned into dicts first)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return sha256_hex(canonical_json(value))
