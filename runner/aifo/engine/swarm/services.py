"""Pure: the model's Container as a Swarm ServiceSpec body, and the facts read back from one.

A spec container is a service with one replica, pinned to the session's node (`node.id==ID`),
on its overlays with its aliases and `EndpointSpec.Mode dnsrr` (this kernel has no IPVS: a
service's virtual IP does not answer). "Created" is `Replicas 0`, started is `Replicas 1`.
Every label aifo gives a container goes on the service and on its task containers
(`ContainerSpec.Labels`, the CLI's `--container-label`); the service also carries its aifo
name (`io.aifo.name`), because Swarm cannot rename a service (docs/engine.md, "Swarm").

What a service cannot express is refused before anything is created (`unsupported`):
privileged containers, published ports (Swarm publishes on every address of the node, never
loopback alone) and extra security options (AppArmor, seccomp profiles).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from aifo.engine.body import capability, healthcheck, nanos, size_bytes
from aifo.model import (
    LABEL_SESSION,
    LABEL_SWARM_DIGEST,
    LABEL_SWARM_NAME,
    LABEL_SWARM_NO_NNP,
    LABEL_SWARM_ROUTE_VOLUME,
    LABEL_SWARM_SOLO,
    Container,
    Mount,
    is_temp_name,
)

Json = dict[str, Any]
LABEL_NAME = LABEL_SWARM_NAME
LABEL_DIGEST = LABEL_SWARM_DIGEST
LABEL_SOLO = LABEL_SWARM_SOLO
LABEL_NO_NNP = LABEL_SWARM_NO_NNP
STOP_GRACE_S = 10.0  # Docker's own default stop timeout
# Swarm's names: a DNS label of at most 63 characters ("name must be valid as a DNS name
# component"), so `aifo-s-api.next` cannot name a service.
_NAME = re.compile(r"^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$")
_RESTART = {"no": "none", "on-failure": "on-failure", "always": "any", "unless-stopped": "any"}


def valid_name(name: str) -> bool:
    return len(name) <= 63 and bool(_NAME.match(name))


def swarm_name(docker_name: str, unique: str) -> str:
    """The service's Swarm name for `docker_name`: the name itself when Swarm accepts it and it
    is not a replacement's temporary name; else a DNS label from it plus `unique` (a few
    characters that differ per create), since a replacement's service keeps its Swarm name for
    life (only its `io.aifo.name` label is renamed) and the next replacement needs another."""
    if valid_name(docker_name) and not is_temp_name(docker_name):
        return docker_name
    base = re.sub(r"[^a-zA-Z0-9]+", "-", docker_name).strip("-") or "aifo"
    return f"{base[: 62 - len(unique)]}-{unique}".replace("--", "-")


def solo_name(service_name: str) -> str:
    """The private internal overlay of a container without networks (see `service_spec`),
    named after its service's Swarm name (unique, and kept for the service's life)."""
    return f"{service_name[:58]}-solo"


def unsupported(c: Container) -> str | None:
    """Why a service cannot be what `c` declares; None when it can."""
    if c.privileged:
        return "Swarm services cannot be privileged"
    if c.ports:
        return (
            "Swarm publishes a service's ports on every address of its node (never loopback "
            "alone, and ingress needs IPVS): ports are not supported on the swarm engine"
        )
    extra = [o for o in c.security_opt if not o.startswith("no-new-privileges")]
    if extra:
        return f"Swarm services cannot set security options ({', '.join(extra)})"
    return None


# Every tmpfs of a Swarm task is a `local` volume of type tmpfs, named after its container. A
# tmpfs mount is noexec before API 1.46, and on one host a tmpfs runs programs (real tools run
# from /tmp and HOME; the route folder /run/aifo holds the shims): a local tmpfs volume does
# (measured). Named, not anonymous: Swarm leaves an anonymous volume behind when it replaces a
# task (measured), where no one would find it. The mark label tells them from spec volumes.
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _is_tmpfs_volume(m: Any) -> bool:
    if not isinstance(m, dict) or m.get("Type") != "volume":
        return False
    labels = (m.get("VolumeOptions") or {}).get("Labels") or {}
    return isinstance(labels, Mapping) and LABEL_SWARM_ROUTE_VOLUME in labels


def _exec_tmpfs(spec: Mapping[str, Any]) -> list[Json]:
    template = spec.get("TaskTemplate") or {}
    mounts = (template.get("ContainerSpec") or {}).get("Mounts") or []
    return [m for m in mounts if _is_tmpfs_volume(m)]


def tmpfs_volume_name(owner: str, target: str) -> str:
    """`<container>.<target's parts>`; a target with other characters gets a digest too, so
    two targets never share a volume."""
    plain = target.strip("/").replace("/", ".") or "root"
    safe = _NAME_UNSAFE.sub("-", plain)
    if safe != plain:
        safe += "-" + hashlib.sha256(target.encode()).hexdigest()[:8]
    return f"{owner}.{safe}"


def route_volumes(spec: Mapping[str, Any]) -> list[str]:
    """The tmpfs volumes a service's mounts made (removed with the service)."""
    return [str(m.get("Source")) for m in _exec_tmpfs(spec) if m.get("Source")]


def exec_tmpfs_sizes(spec: Mapping[str, Any]) -> dict[str, int | None]:
    """Target -> size in bytes of a service's tmpfs volumes, read back as the tmpfs
    mounts they are in the spec (observe compares them so)."""
    out: dict[str, int | None] = {}
    for m in _exec_tmpfs(spec):
        options = ((m.get("VolumeOptions") or {}).get("DriverConfig") or {}).get("Options") or {}
        found = re.search(r"(?:^|,)size=(\d+)", str(options.get("o", "")))
        out[str(m["Target"])] = int(found.group(1)) if found else None
    return out


def mount(
    m: Mount, volumes: Mapping[str, str], owner: str = "", labels: Mapping[str, str] | None = None
) -> Json:
    """A ContainerSpec mount of container `owner` (Docker name) with the session's `labels`.
    Every tmpfs is a local tmpfs volume (above: a tmpfs mount would be noexec)."""
    if m.kind == "tmpfs":
        size = f"size={size_bytes(m.tmpfs_size)}," if m.tmpfs_size else ""
        options = {"type": "tmpfs", "device": "tmpfs", "o": f"{size}mode=1777,nosuid,nodev"}
        named = tmpfs_volume_name(owner, m.target)
        # not the session's label: the volume is its container's part, not a spec volume
        # (observe would call it foreign); `route_volumes` names it for removal with the service
        mark = {LABEL_SWARM_ROUTE_VOLUME: str((labels or {}).get(LABEL_SESSION, ""))}
        driver = {"DriverConfig": {"Name": "local", "Options": options}, "Labels": mark}
        return {"Type": "volume", "Target": m.target, "Source": named, "VolumeOptions": driver}
    out: Json = {"Type": m.kind, "Target": m.target}
    if m.kind == "bind":
        out["Source"] = m.source or ""
    elif m.kind == "volume":
        source = m.source or ""
        out["Source"] = volumes.get(source, source)
    if m.read_only:
        out["ReadOnly"] = True
    return out


def container_spec(c: Container, labels: Mapping[str, str], volumes: Mapping[str, str]) -> Json:
    spec: Json = {
        "Image": c.image,
        "Labels": {**dict(c.labels), **labels},
        "Env": [f"{v.key}={v.value or ''}" for v in c.env if not v.secret],
        "Mounts": [mount(m, volumes, c.docker_name, labels) for m in c.mounts],
        "ReadOnly": c.read_only,
        "Init": c.init,
        "TTY": c.tty,
        "OpenStdin": c.tty,
        "StopGracePeriod": nanos(STOP_GRACE_S),
    }
    if c.entrypoint is not None:
        spec["Command"] = [x for x in c.entrypoint] or [""]
    if c.command is not None:
        spec["Args"] = list(c.command)
    if c.process_user:
        spec["User"] = c.process_user
    if c.working_dir:
        spec["Dir"] = c.working_dir
    if c.hostname:
        spec["Hostname"] = c.hostname
    if c.cap_add:
        spec["CapabilityAdd"] = [capability(x) for x in c.cap_add]
    if c.cap_drop:
        spec["CapabilityDrop"] = [capability(x) for x in c.cap_drop]
    if c.healthcheck is not None:
        spec["Healthcheck"] = healthcheck(c.healthcheck)
    return spec


def pin(node_id: str) -> str:
    """The constraint that pins a service to a node (as placement.constraint, by id)."""
    return f"node.id=={node_id}"


def limits(c: Container) -> Json:
    out: Json = {}
    if c.memory_bytes is not None:
        out["MemoryBytes"] = c.memory_bytes
    if c.cpus is not None:
        out["NanoCPUs"] = round(c.cpus * 1e9)
    if c.pids_limit is not None:
        out["Pids"] = c.pids_limit
    return out


def service_spec(
    c: Container,
    *,
    name: str,
    docker_name: str,
    labels: Mapping[str, str],
    networks: Sequence[str],
    volumes: Mapping[str, str],
    node_id: str,
    replicas: int = 0,
) -> Json:
    """The `POST /services/create` body. `networks`: overlay names in order, each with the
    container's aliases; a container without networks is given its own internal overlay by
    the caller (Swarm attaches a service without networks to the node's default bridge, and
    has no `none` network), passed here as its only network without aliases."""
    aliases = list(c.aliases)
    nets = [{"Target": n, "Aliases": aliases} if aliases else {"Target": n} for n in networks]
    template: Json = {
        "ContainerSpec": container_spec(c, labels, volumes),
        "Resources": {"Limits": limits(c)},
        "RestartPolicy": {"Condition": _RESTART.get(c.restart, "none"), "MaxAttempts": 0},
        "Placement": {"Constraints": [pin(node_id)]},
        "Networks": nets,
    }
    opt_out = {} if c.no_new_privileges else {LABEL_NO_NNP: "true"}
    spec: Json = {
        "Name": name,
        "Labels": {**dict(c.labels), **labels, LABEL_NAME: docker_name, **opt_out},
        "TaskTemplate": template,
        "Mode": {"Replicated": {"Replicas": replicas}},
        "EndpointSpec": {"Mode": "dnsrr"},
    }
    spec["Labels"][LABEL_DIGEST] = digest(spec)
    return spec


# -- read back ---------------------------------------------------------------------------------

_KEPT = (
    "Image", "Labels", "Env", "Mounts", "ReadOnly", "Init", "TTY", "OpenStdin", "Command",
    "Args", "User", "Dir", "Hostname", "CapabilityAdd", "CapabilityDrop", "Healthcheck",
    "StopGracePeriod",
)  # fmt: skip


def _plain(value: Any) -> Any:
    """Swarm's stored form without what it adds or leaves empty: false, 0, [], {} and null
    fields are dropped, so what aifo sent and what Swarm keeps compare equal."""
    if isinstance(value, dict):
        out = {k: _plain(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, False, 0, "", [], {})}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def projection(spec: Mapping[str, Any]) -> Json:
    """The part of a ServiceSpec aifo decides and nothing else changes: the container, its
    limits, restart policy and placement. Not the replicas, networks or the service's own
    labels, which aifo itself changes (start, stop, attach, rename)."""
    template = spec.get("TaskTemplate") or {}
    container = template.get("ContainerSpec") or {}
    kept = {k: container.get(k) for k in _KEPT}
    image = str(kept.get("Image") or "")
    kept["Image"] = image.split("@", 1)[0]  # a digest Swarm pins when a registry answers
    # order carries no meaning here, and the docker CLI reorders on `service update`
    for key in ("Env", "CapabilityAdd", "CapabilityDrop"):
        values = kept.get(key)
        if isinstance(values, list):
            kept[key] = sorted(str(v) for v in values)
    mounts = kept.get("Mounts")
    if isinstance(mounts, list):
        kept["Mounts"] = sorted(mounts, key=lambda m: json.dumps(m, sort_keys=True))
    out: Json = _plain(
        {
            "ContainerSpec": kept,
            "Limits": (template.get("Resources") or {}).get("Limits"),
            "Restart": (template.get("RestartPolicy") or {}).get("Condition"),
            "Placement": (template.get("Placement") or {}).get("Constraints"),
        }
    )
    return out


def digest(spec: Mapping[str, Any]) -> str:
    text = json.dumps(projection(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def changed_outside(spec: Mapping[str, Any]) -> bool:
    """Whether someone changed the service since aifo made it (`docker service update`)."""
    labels = spec.get("Labels") or {}
    return labels.get(LABEL_DIGEST) != digest(spec)


def replicas(spec: Mapping[str, Any]) -> int:
    mode = (spec.get("Mode") or {}).get("Replicated") or {}
    value = mode.get("Replicas")
    return value if isinstance(value, int) else 0


def restarts(spec: Mapping[str, Any]) -> bool:
    """Whether Swarm makes a new task when one ends (a restart policy other than `none`)
    and is asked for one (replicas > 0)."""
    policy = (spec.get("TaskTemplate") or {}).get("RestartPolicy") or {}
    return replicas(spec) > 0 and policy.get("Condition", "any") != "none"


def node_of(spec: Mapping[str, Any]) -> str | None:
    """The node a service is pinned to (its `node.id==ID` constraint)."""
    from aifo.engine.swarm.placement import pinned_to

    placement = (spec.get("TaskTemplate") or {}).get("Placement") or {}
    return pinned_to([str(c) for c in placement.get("Constraints") or []])


def network_targets(spec: Mapping[str, Any]) -> list[str]:
    return [
        str(n.get("Target", ""))
        for n in (spec.get("TaskTemplate") or {}).get("Networks") or []
        if isinstance(n, dict)
    ]


def _copy(spec: Mapping[str, Any]) -> Json:
    return dict(copy.deepcopy(dict(spec)))


def with_replicas(spec: Mapping[str, Any], count: int) -> Json:
    out = _copy(spec)
    out["Mode"] = {"Replicated": {"Replicas": count}}
    return out


def forced(spec: Mapping[str, Any]) -> Json:
    """The spec with `ForceUpdate` bumped: Swarm replaces the task (a restart)."""
    out = _copy(spec)
    template = out.setdefault("TaskTemplate", {})
    template["ForceUpdate"] = int(template.get("ForceUpdate") or 0) + 1
    return out


def with_networks(spec: Mapping[str, Any], networks: Sequence[Json]) -> Json:
    out = _copy(spec)
    out.setdefault("TaskTemplate", {})["Networks"] = list(networks)
    return out


def renamed(spec: Mapping[str, Any], docker_name: str) -> Json:
    out = _copy(spec)
    out.setdefault("Labels", {})[LABEL_NAME] = docker_name
    return out


def declared(service: Mapping[str, Any]) -> Container:
    """What verification holds a running task to, read back from its service: the caps the
    spec leaves, and no-new-privileges unless the spec opted out (a start in another process
    than the create has only the service to go by)."""
    spec = service.get("Spec") or {}
    labels = spec.get("Labels") or {}
    cs = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    name = str(labels.get(LABEL_NAME) or spec.get("Name") or "")
    return Container(
        name=name,
        role="service",
        docker_name=name,
        image=str(cs.get("Image") or ""),
        cap_add=tuple(str(c) for c in cs.get("CapabilityAdd") or []),
        cap_drop=tuple(str(c) for c in cs.get("CapabilityDrop") or []),
        no_new_privileges=labels.get(LABEL_NO_NNP) != "true",
    )
