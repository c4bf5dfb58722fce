"""The canonical config of a resource: a flat `field -> JSON value` view, secrets only as digests.

Kept per resource in `applied.json` after each apply (aifo.apply.applied), so a later plan can
name the fields that changed since (`env.RUST_LOG`, `networks`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from aifo.masking import MASK
from aifo.model import Resource


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


def canonical(resource: Resource) -> dict[str, Any]:
    """A flat `field -> JSON value` view of a resource, secrets only as digests or sources.

    Dotted keys for mappings (`env.RUST_LOG`, `labels.team`) so a diff names the exact entry
    that changed.
    """
    out: dict[str, Any] = {}
    for f in dataclasses.fields(resource):
        if f.name in ("config_hash", "name", "docker_name", "role"):
            continue
        value = getattr(resource, f.name)
        if f.name == "env":
            for var in value:
                out[f"env.{var.key}"] = (
                    f"secret:{var.digest or var.from_host or var.from_file or ''}"
                    if var.secret
                    else var.value
                )
        elif f.name == "labels":
            for key, label in value:
                out[f"labels.{key}"] = label
        else:
            out[f.name] = _jsonable(value)
    return out


def _show(config: Mapping[str, Any], key: str) -> str:
    import json

    if key not in config:
        return "(unset)"
    value = config[key]
    if isinstance(value, str) and value.startswith("secret:"):
        return MASK  # a digest or a source name: never shown, even masked differently
    if isinstance(value, str):
        return json.dumps(value)
    return json.dumps(value, separators=(", ", ": "), sort_keys=True, default=str)


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """`field: old → new` for each changed field, secrets as ***."""
    return tuple(f"{k}: {_show(old, k)} → {_show(new, k)}" for k in diff(old, new))


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    """The keys whose values differ (added, removed or changed), sorted."""
    return tuple(sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k)))
