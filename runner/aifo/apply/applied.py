"""The last-applied record of a session: `<state>/sessions/<s>/applied.json`.

Per resource its config hash and canonical config (secrets only as digests), so the next plan can
name the fields that changed (`env.RUST_LOG`) rather than just `config changed`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aifo.errors import StateError
from aifo.model import Container, Network, Session, Volume
from aifo.plan.planner import canonical
from aifo.state.private import read_bytes, write_atomic

APPLIED = "applied.json"
CAP = 32 << 20  # bytes


def applied_record(session: Session) -> dict[str, Any]:
    """The desired state as applied: hash + canonical config per resource (no secret values)."""
    record: dict[str, Any] = {}
    resources: list[Network | Volume | Container] = [
        *session.networks,
        *session.volumes,
        *session.containers,
    ]
    for resource in resources:
        record[resource.id] = {"hash": resource.config_hash, "config": canonical(resource)}
    for hook in session.hooks:
        record[hook.id] = {"hash": hook.config_hash}
    return record


def read_applied(directory: Path) -> dict[str, dict[str, Any]]:
    """Plain data, read as untrusted input: anything unexpected is unknown."""
    try:
        data = json.loads(read_bytes(directory / APPLIED, CAP) or b"")
    except (OSError, ValueError, RecursionError):  # Unsafe (a link, not ours) is an OSError
        return {}  # unknown: reasons fall back to `config changed`
    resources = data.get("resources") if isinstance(data, dict) else None
    return resources if isinstance(resources, dict) else {}


def write_applied(directory: Path, record: dict[str, Any]) -> None:
    data = json.dumps({"version": 1, "resources": record}, sort_keys=True, indent=1)
    try:
        write_atomic(directory / APPLIED, data.encode())
    except OSError as exc:
        raise StateError(f"cannot write {directory / APPLIED}: {exc}") from exc
