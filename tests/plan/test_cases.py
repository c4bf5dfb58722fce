"""Table-driven planner tests: each tests/plan/cases/*.yaml holds a desired session, a snapshot
and the expected actions (or the expected PlanError). No Docker: the planner is pure.

Case format (everything but `session.name` optional):

    session: {name, networks: [...], volumes: [...], images: [...], containers: [...], hooks: [...]}
    order: [[graph ids], ...]            # layers; default: one layer per kind
    applied: {graph id: {hash, config}}  # the last-applied record; `changed: {field: old}`
                                         # instead of `config` = the desired config but these
    snapshot: {containers: {docker name: {...}}, networks: ..., volumes: ..., images: ...,
               foreign_containers: ..., foreign_networks: ..., foreign_volumes: ...,
               external_networks: ..., external_volumes: ...,
               guards: {network docker name: [bridges]}}   # the host guard, read back
               # an image with `built_from: current` carries the desired build's identity
               # label (aifo.model.LABEL_BUILD); any other value is that label's literal value
               # a container with `facts: {...}` was inspected: its facts are the desired
               # container's (aifo.plan.drift.expected_facts) with these overrides, and its
               # `networks` default to the declared ones
    expect: ["<op> <id>: reason, reason", ...]   # every non-noop action, in plan order
    noop: [ids]                                   # optional: these must be noops
    error: [substrings of the PlanError]
    check: {id: {field: value}}                   # optional: action attributes
    drift: {id: ["field: expected X, found Y"]}   # optional: an action's drift lines
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from aifo.errors import PlanError
from aifo.model import (
    LABEL_BUILD,
    LABEL_HASH,
    LABEL_RESOURCE,
    LABEL_SESSION,
    Build,
    Container,
    Dependency,
    EnvVar,
    Hook,
    Image,
    Mount,
    Network,
    Session,
    Volume,
)
from aifo.model.hashing import build_identity
from aifo.model.observed import (
    ContainerFacts,
    MountFact,
    ObservedContainer,
    ObservedImage,
    ObservedNetwork,
    ObservedVolume,
    Snapshot,
)
from aifo.plan.drift import expected_facts
from aifo.plan.planner import Plan, canonical, plan

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))


def _docker(session: str, item: dict[str, Any]) -> str:
    if item.get("external"):
        return str(item.get("docker_name", item["name"]))
    return str(item.get("docker_name") or f"aifo-{session}-{item['name']}")


def _pairs(mapping: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in (mapping or {}).items()))


_CONTAINER_FACTS = (
    "user",
    "privileged",
    "cap_add",
    "cap_drop",
    "security_opt",
    "no_new_privileges",
    "pids_limit",
    "memory_bytes",
    "cpus",
    "read_only",
)


def _model_value(key: str, value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def build_session(data: dict[str, Any]) -> Session:
    name = data["name"]
    networks = tuple(
        Network(
            name=n["name"],
            docker_name=_docker(name, n),
            internal=n.get("internal", False),
            external=n.get("external", False),
            driver=n.get("driver", "bridge"),
            subnet=n.get("subnet"),
            labels=_pairs(n.get("labels")),
            host_reach="host" in (n.get("allow") or ()),
            config_hash=n.get("hash", f"h-{n['name']}"),
        )
        for n in data.get("networks", [])
    )
    volumes = tuple(
        Volume(
            name=v["name"],
            docker_name=_docker(name, v),
            external=v.get("external", False),
            shared=v.get("shared", False),
            config_hash=v.get("hash", f"h-{v['name']}"),
        )
        for v in data.get("volumes", [])
    )
    images = tuple(
        Image(
            ref=i["ref"],
            pull=i.get("pull", "missing"),
            build=Build(**i["build"]) if "build" in i else None,
        )
        for i in data.get("images", [])
    )
    containers = []
    for c in data.get("containers", []):
        env = tuple(
            EnvVar(key=k, secret=True, digest=v.get("digest"))
            if isinstance(v, dict)
            else EnvVar(key=k, value=str(v))
            for k, v in sorted((c.get("env") or {}).items())
        )
        containers.append(
            Container(
                name=c["name"],
                role=c.get("role", "agent"),
                docker_name=_docker(name, c),
                image=c.get("image", "busybox:latest"),
                command=tuple(c["command"]) if c.get("command") else None,
                env=env,
                mounts=tuple(Mount(**m) for m in c.get("mounts", [])),
                networks=tuple(sorted(c.get("networks", []))),
                depends_on=tuple(Dependency(**d) for d in c.get("depends_on", [])),
                config_hash=c.get("hash", f"h-{c['name']}"),
                **{k: _model_value(k, c[k]) for k in _CONTAINER_FACTS if k in c},
            )
        )
    hooks = tuple(
        Hook(
            name=h["name"],
            container=h["container"],
            command=tuple(h.get("command", ["true"])),
            config_hash=h.get("hash", f"h-{h['name']}"),
        )
        for h in data.get("hooks", [])
    )
    return Session(
        name=name,
        networks=networks,
        volumes=volumes,
        images=images,
        containers=tuple(containers),
        hooks=hooks,
    )


def _labels(session: str, item: dict[str, Any]) -> dict[str, str]:
    labels = dict(item.get("labels") or {})
    owner = item.get("owner", session)
    if owner:
        labels[LABEL_SESSION] = owner
    if item.get("hash"):
        labels[LABEL_HASH] = item["hash"]
    if item.get("resource"):
        labels[LABEL_RESOURCE] = item["resource"]
    return labels


def _facts(
    desired: Container | None, volumes: dict[str, str], data: dict[str, Any]
) -> ContainerFacts:
    base = expected_facts(desired, volumes) if desired else ContainerFacts()
    fields: dict[str, Any] = {}
    for key, value in data.items():
        if key == "mounts":
            fields[key] = tuple(sorted(MountFact(**m) for m in value))
        else:
            fields[key] = tuple(sorted(value)) if isinstance(value, list) else value
    return dataclasses.replace(base, **fields)


def build_snapshot(session: str, data: dict[str, Any], desired: Session | None = None) -> Snapshot:
    snap = Snapshot(session=session)
    by_name = {c.docker_name: c for c in desired.containers} if desired else {}
    nets = {n.name: n.docker_name for n in desired.networks} if desired else {}
    vols = {v.name: v.docker_name for v in desired.volumes} if desired else {}
    for key in ("containers", "foreign_containers"):
        for name, c in (data.get(key) or {}).items():
            want = by_name.get(name)
            networks = c.get("networks")
            if networks is None and "facts" in c and want is not None:
                networks = [nets.get(n, n) for n in want.networks]
            getattr(snap, key)[name] = ObservedContainer(
                id=c.get("id", f"id-{name}"),
                name=name,
                labels=_labels(session if key == "containers" else "", c),
                state=c.get("state", "running"),
                networks=tuple(sorted(networks or [])),
                image_id=c.get("image_id", ""),
                facts=_facts(want, vols, c["facts"] or {}) if "facts" in c else None,
            )
    for key in ("networks", "foreign_networks", "external_networks"):
        for name, n in (data.get(key) or {}).items():
            getattr(snap, key)[name] = ObservedNetwork(
                id=n.get("id", f"id-{name}"),
                name=name,
                labels=_labels(session if key == "networks" else "", n),
                driver=n.get("driver", "bridge"),
                internal=n.get("internal", False),
                subnets=tuple(n.get("subnets", [])),
            )
    for key in ("volumes", "foreign_volumes", "external_volumes"):
        for name, v in (data.get(key) or {}).items():
            v = v or {}
            getattr(snap, key)[name] = ObservedVolume(
                name=name, labels=_labels(session if key == "volumes" else "", v)
            )
    builds = {i.ref: i.build for i in desired.images} if desired else {}
    for ref, i in (data.get("images") or {}).items():
        i = i or {}
        labels = {}
        if "built_from" in i:  # `current`: the desired build's identity; else a literal
            build = builds.get(ref)
            labels[LABEL_BUILD] = (
                build_identity(build)
                if build is not None and i["built_from"] == "current"
                else str(i["built_from"])
            )
        snap.images[ref] = ObservedImage(ref=ref, id=i.get("id", f"sha256:{ref}"), labels=labels)
    if "guards" in data:  # the host guard's rules as read back: network -> bridges
        guards = data["guards"] or {}
        snap = dataclasses.replace(snap, guards={k: tuple(v) for k, v in guards.items()})
    return snap


def _line(action: Any) -> str:
    why = f": {', '.join(action.reasons)}" if action.reasons else ""
    return f"{action.op} {action.id}{why}"


def _plain(value: Any) -> Any:
    """Tuples (nested too) as lists, as YAML writes them."""
    return [_plain(v) for v in value] if isinstance(value, tuple) else value


def build_applied(session: Session, data: dict[str, Any] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    out: dict[str, Any] = {}
    for rid, record in data.items():
        record = dict(record)
        if "changed" in record:
            config = canonical(session.resources[rid])
            for key, old in record.pop("changed").items():
                if old is None:
                    config.pop(key, None)
                else:
                    config[key] = old
            record["config"] = config
        out[rid] = record
    return out


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_plan_case(path: Path) -> None:
    case = yaml.safe_load(path.read_text())
    session = build_session(case["session"])
    case["applied"] = build_applied(session, case.get("applied"))
    snapshot = build_snapshot(session.name, case.get("snapshot") or {}, session)
    order = case.get("order") or [
        [n.id for n in session.networks]
        + [v.id for v in session.volumes]
        + [i.id for i in session.images],
        [c.id for c in session.containers],
        [h.id for h in session.hooks],
    ]
    if "error" in case:
        with pytest.raises(PlanError) as caught:
            plan(session, snapshot, order=order, applied=case.get("applied"))
        for fragment in case["error"]:
            assert fragment in str(caught.value)
        return
    result: Plan = plan(session, snapshot, order=order, applied=case.get("applied"))
    assert [_line(a) for a in result.changes] == case.get("expect", [])
    by_id = {a.id: a for a in result.actions}
    for rid in case.get("noop", []):
        assert by_id[rid].op == "noop", rid
    for rid, fields in (case.get("check") or {}).items():
        for field, value in fields.items():
            got = _plain(getattr(by_id[rid], field))
            assert got == value, (rid, field)
    for rid, lines in (case.get("drift") or {}).items():
        assert list(by_id[rid].detail_lines()) == lines, rid


def test_every_case_is_valid_yaml_with_an_outcome() -> None:
    assert CASES
    for path in CASES:
        case = yaml.safe_load(path.read_text())
        assert "session" in case and ("expect" in case or "error" in case), path.name
