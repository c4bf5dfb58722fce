"""Saved plans (`aifo plan --out FILE`, `aifo apply FILE`): what was reviewed, and the checks
that it still holds.

A plan file records the actions and what they were computed from: every input file (spec,
profiles, .env) as a keyed digest, every resource's config hash (secrets enter those only as
keyed digests) and a fingerprint of the engine's objects. `aifo apply FILE` recomputes the same
record and refuses, saying what changed, unless everything matches. No secret value is stored.

A plan file is untrusted input (anyone may hand one over): `load` reads at most PLAN_FILE_CAP
bytes of a regular file, checks every field's type and size, the session names as the command
line does, the spec path through the host-path policy, and the record's MAC under the session's
key (`mac`): only a plan this user's aifo wrote for this session is followed. Every refusal is a
UsageError (exit 2) that quotes nothing but the plan file itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aifo.errors import UsageError
from aifo.plan.planfile import FORMAT, MAC_FIELD, check_fields, fail, short

if TYPE_CHECKING:
    from aifo.model import Session
    from aifo.model.observed import Snapshot
    from aifo.plan.planner import Plan

VERSION = 1
PLAN_FILE_CAP = 16 * 1024 * 1024  # thousands of resources fit in a few MiB


@dataclass(frozen=True)
class SavedPlan:
    """A plan file that passed `load`: what it fixes, and the record to compare."""

    path: str  # the plan file, as named
    spec: str  # absolute, vetted by the host-path policy
    profiles: tuple[str, ...]
    session: str  # the session the plan is for (its key signed the record)
    session_override: str | None
    record: dict[str, Any]


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


def canonical(data: Mapping[str, Any]) -> bytes:
    """The record's bytes under the MAC: every field but the MAC itself, canonical JSON."""
    body = {k: v for k, v in data.items() if k != MAC_FIELD}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign(data: Mapping[str, Any], key: bytes) -> str:
    """The record's MAC under the session key (only `plan --out` and `apply PLANFILE` need it)."""
    import hashlib
    import hmac

    return "hmac-sha256:" + hmac.new(key, canonical(data), hashlib.sha256).hexdigest()


def write(path: str | Path, data: dict[str, Any]) -> None:
    """Save a plan, signed with its session's key (made when the plan was)."""
    from aifo.state.secrets import session_key

    signed = {**data, MAC_FIELD: sign(data, session_key(str(data["session"])))}
    Path(path).write_text(json.dumps(signed, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def load(path: str | Path, *, environ: Mapping[str, str] | None = None) -> SavedPlan:
    """Read and check a plan file (see the module docstring). UsageError when it is not one this
    aifo wrote for its session, or names anything the command line would refuse."""
    data = _parse(path)
    shown = str(path)
    if data.get("format") != FORMAT:
        raise UsageError(f"{shown}: not a saved plan", hint="make one with `aifo plan --out FILE`")
    if data.get("version") != VERSION or isinstance(data.get("version"), bool):
        raise UsageError(
            f"{shown}: a plan of format version {short(data.get('version'))}; this aifo reads "
            f"{VERSION}",
            hint="make the plan again with this aifo: `aifo plan --out FILE`",
        )
    check_fields(shown, data)
    session = _session(shown, "session", data["session"])
    override = data["session_override"]
    if override is not None:
        override = _session(shown, "session_override", override)
        if override != session:
            fail(shown, "session_override", "is not the plan's session")
    spec = _spec_path(shown, data["spec"], environ)
    _verify_mac(shown, data, session)
    return SavedPlan(
        path=shown,
        spec=spec,
        profiles=tuple(data["profiles"]),
        session=session,
        session_override=override,
        record=data,
    )


def _parse(path: str | Path) -> dict[str, Any]:
    from aifo.host.files import UnreadableFile, read_bounded

    try:
        raw = read_bounded(path, PLAN_FILE_CAP)
    except (OSError, UnreadableFile) as exc:
        raise UsageError(f"{path}: not a readable saved plan ({exc})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise UsageError(f"{path}: not a readable saved plan ({short(reason, 120)})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a saved plan", hint="make one with `aifo plan --out FILE`")
    return data


def _session(shown: str, field: str, name: str) -> str:
    """A session name, by the command line's own check (aifo.discovery.check_session)."""
    from aifo.discovery import check_session

    try:
        return check_session(name)
    except UsageError:
        raise UsageError(
            f"{shown}: not a valid saved plan: `{field}` {short(name)} is not a session name",
            hint="a plan file is written by `aifo plan --out FILE`; make a new one",
        ) from None


def _spec_path(shown: str, spec: str, environ: Mapping[str, str] | None) -> str:
    """The plan's spec through the host-path policy: a regular file under the spec cap, in no
    protected place (no opt-in: a plan cannot carry one)."""
    from aifo.host.files import SPEC_FILE_CAP
    from aifo.sessionspec import hostfacts, hostpaths
    from aifo.state.folder import state_root

    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    facts = hostfacts.host_facts(home, env, state_root())
    verdict = hostpaths.check(
        spec,
        base=Path("/"),
        facts=facts,
        read_only=True,
        allowed=(),
        what="spec",
        kind="file",
        cap=SPEC_FILE_CAP,
        opt_in=None,
    )
    if verdict.errors:
        message, _hint = verdict.errors[0]
        raise UsageError(
            f"{shown}: the saved plan's {message}",
            hint="a saved plan names the spec it was made from; make a new plan from yours",
        )
    return spec


def _verify_mac(shown: str, data: dict[str, Any], session: str) -> None:
    """Only a plan this user's aifo signed for `session` is followed."""
    import hmac

    from aifo.state.secrets import NO_KEY, session_key

    key = session_key(session, create=False)
    if key == NO_KEY or not hmac.compare_digest(sign(data, key), str(data[MAC_FIELD])):
        raise UsageError(
            f"{shown}: this saved plan was not made by aifo here for session {session!r}, or it "
            "was changed since",
            hint="review a new plan: `aifo plan --out PLANFILE`, then apply that",
        )


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


def require_unchanged(saved: SavedPlan, now: dict[str, Any]) -> None:
    """StalePlan (exit 1, nothing changed) unless the saved plan still holds; its items name
    what changed."""
    from aifo.errors import StalePlan

    changed = differences(saved.record, now)
    if changed:
        raise StalePlan(
            f"the saved plan {saved.path} no longer holds; nothing was changed:",
            items=changed,
            hint="review a new plan: `aifo plan --out PLANFILE`, then apply that",
        )
