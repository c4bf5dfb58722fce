"""Saved plans (`aifo plan --out FILE`, `aifo apply FILE`): what was reviewed, and the checks
that it still holds.

A plan file records the actions and what they were computed from: every input file (spec,
profiles, .env) as a keyed digest, every resource's config hash (secrets enter those only as
keyed digests) and a fingerprint of the engine's objects. `aifo apply FILE` recomputes the same
record and refuses, saying what changed, unless everything matches. No secret value is stored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aifo.errors import UsageError

if TYPE_CHECKING:
    from aifo.model import Session
    from aifo.model.observed import Snapshot
    from aifo.plan.planner import Plan

FORMAT = "aifo-plan"
VERSION = 1
_SNIFF_BYTES = 256


def is_plan_file(path: str | Path) -> bool:
    """Whether `path` is a saved plan (JSON with `"format": "aifo-plan"`), not a spec."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return False
    return head.lstrip().startswith(b"{") and FORMAT.encode() in head


def fingerprint(snapshot: Snapshot) -> dict[str, str]:
    """The engine's objects as the plan saw them: ids, config hashes, states, attachments."""
    out: dict[str, str] = {}
    for name, c in snapshot.containers.items():
        out[f"container {name}"] = f"{c.id} {c.config_hash} {c.state} {','.join(c.networks)}"
    for name, n in snapshot.networks.items():
        out[f"network {name}"] = f"{n.id} {n.config_hash}"
    for name, v in snapshot.volumes.items():
        out[f"volume {name}"] = str(v.config_hash)
    for name, i in snapshot.images.items():
        out[f"image {name}"] = i.id
    for kind in ("containers", "networks", "volumes"):
        for name in getattr(snapshot, f"foreign_{kind}"):
            out[f"foreign {kind[:-1]} {name}"] = "present"
    for kind in ("networks", "volumes"):
        for name in getattr(snapshot, f"external_{kind}"):
            out[f"external {kind[:-1]} {name}"] = "present"
    return out


def input_digests(sources: Sequence[Path], key: bytes) -> dict[str, str]:
    """Each input file's content under the session key (a .env holds secrets: never plain)."""
    from aifo.state.secrets import digest

    out: dict[str, str] = {}
    for path in sources:
        try:
            text = path.read_bytes().decode("utf-8", errors="surrogateescape")
        except OSError:
            text = None
        out[str(path)] = digest(key, str(path), text)
    return out


def current(
    *,
    spec_file: str,
    profiles: Sequence[str],
    session_override: str | None,
    sources: Sequence[Path],
    session: Session,
    snapshot: Snapshot,
    plan: Plan,
) -> dict[str, Any]:
    """The record of a plan made now (what `plan --out` saves, what `apply FILE` compares)."""
    from aifo.state.secrets import session_key

    key = session_key(session.name)
    resources = {
        rid: str(getattr(resource, "config_hash", "") or "")
        for rid, resource in session.resources.items()
    }
    return record(
        spec_file=spec_file,
        profiles=profiles,
        session_override=session_override,
        inputs=input_digests(sources, key),
        resources=resources,
        observed=fingerprint(snapshot),
        plan=plan.to_dict(),
    )


def record(
    *,
    spec_file: str,
    profiles: Sequence[str],
    session_override: str | None,
    inputs: dict[str, str],
    resources: dict[str, str],
    observed: dict[str, str],
    plan: dict[str, Any],
) -> dict[str, Any]:
    from aifo import __version__

    return {
        "format": FORMAT,
        "version": VERSION,
        "aifo": __version__,
        "session": plan["session"],
        "spec": str(Path(spec_file).absolute()),
        "profiles": list(profiles),
        "session_override": session_override,
        "inputs": inputs,
        "resources": resources,
        "observed": observed,
        "plan": plan,
    }


def write(path: str | Path, data: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def load(path: str | Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable saved plan ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f"{path}: not a saved plan", hint="make one with `aifo plan --out FILE`")
    if data.get("version") != VERSION:
        raise UsageError(
            f"{path}: a plan of format version {data.get('version')!r}; this aifo reads {VERSION}",
            hint="make the plan again with this aifo: `aifo plan --out FILE`",
        )
    return data


def _diff(what: str, saved: dict[str, str], now: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for key in sorted(saved.keys() | now.keys()):
        if key not in now:
            lines.append(f"{what} {key}: gone")
        elif key not in saved:
            lines.append(f"{what} {key}: new")
        elif saved[key] != now[key]:
            lines.append(f"{what} {key}: changed")
    return lines


def _steps(plan: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["op"], a["id"]) for a in plan.get("actions", []) if a.get("op") != "noop"]


def differences(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What changed since the plan was made, one line each; empty when it still holds."""
    lines = _diff("input", saved.get("inputs", {}), now["inputs"])
    lines += _diff("resource", saved.get("resources", {}), now["resources"])
    lines += _diff("engine:", saved.get("observed", {}), now["observed"])
    if not lines and _steps(saved.get("plan", {})) != _steps(now["plan"]):
        lines.append("the actions differ from the saved ones")
    return lines
