"""Docker JSON (inspect output, `ls --format` lines) → the snapshot types of aifo.model.observed.

Pure: no Docker calls. Inspect output of a call that named a missing object is partial JSON (the
found objects) plus a non-zero exit; `inspect_array` accepts it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aifo.model import LABEL_SESSION, LOCK_RESOURCE
from aifo.model.observed import (
    ContainerFacts,
    MountFact,
    ObservedContainer,
    ObservedImage,
    ObservedNetwork,
    ObservedVolume,
    Snapshot,
)
from aifo.values.units import size_bytes

if TYPE_CHECKING:
    from aifo.engine.api import Want

Json = dict[str, Any]


@dataclass(frozen=True)
class Listed:
    """One line of an `ls` listing: id (or name, for volumes), name, session label."""

    id: str
    name: str
    session: str
    extra: tuple[str, ...] = ()  # any further columns, in the listing's order


def without_locks(rows: list[Listed]) -> list[Listed]:
    """Container listing rows without session locks (aifo.apply.enginelock): never a resource.
    Rows carry the `io.aifo.resource` label first among their extra columns."""
    return [r for r in rows if not (r.extra and r.extra[0] == LOCK_RESOURCE)]


def inspect_array(stdout: str) -> list[Json]:
    """The objects of an inspect call's output; `[]` for empty or unparsable output."""
    text = stdout.strip()
    if not text:
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return []
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def listing(stdout: str) -> list[Listed]:
    """Parse `ID<TAB>NAME<TAB>SESSION` lines (volumes: `NAME<TAB>SESSION`, id = name)."""
    rows: list[Listed] = []
    for line in stdout.splitlines():
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) == 2:
            rows.append(Listed(parts[0], parts[0], parts[1]))
        elif len(parts) >= 3:
            # `docker ps` joins several names with commas (legacy links); the plain one is ours
            names = [n for n in parts[1].split(",") if "/" not in n] or [parts[1]]
            rows.append(Listed(parts[0], names[0], parts[2], tuple(parts[3:])))
    return rows


def _labels(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _limit(value: object) -> int | None:
    """Docker's 0 (and -1, for pids) mean "no limit": None, as the spec says it."""
    return value if isinstance(value, int) and value > 0 else None


def _strings(value: object) -> tuple[str, ...]:
    return tuple(sorted(str(v) for v in value)) if isinstance(value, list) else ()


def _mount(data: Json) -> MountFact:
    tmpfs = data.get("TmpfsOptions") or {}
    return MountFact(
        target=str(data.get("Target", "")),
        kind=str(data.get("Type", "")),
        source=str(data.get("Source") or ""),
        read_only=bool(data.get("ReadOnly", False)),
        tmpfs_bytes=_limit(tmpfs.get("SizeBytes")) if isinstance(tmpfs, dict) else None,
    )


def _tmpfs(target: object, options: object) -> MountFact:
    """A `--tmpfs` (HostConfig.Tmpfs) entry: `rw,exec,...,size=64m` as aifo creates them."""
    size = None
    for option in str(options or "").split(","):
        if option.startswith("size="):
            try:
                size = _limit(size_bytes(option[len("size=") :]))
            except ValueError:
                size = None
    return MountFact(target=str(target), kind="tmpfs", tmpfs_bytes=size)


def facts(data: Json) -> ContainerFacts:
    """The isolation a container really has: HostConfig and Config.User of its inspect."""
    host = data.get("HostConfig") or {}
    config = data.get("Config") or {}
    nano = host.get("NanoCpus")
    mounts = host.get("Mounts") or []
    return ContainerFacts(
        user=str(config.get("User") or ""),
        privileged=bool(host.get("Privileged", False)),
        cap_add=_strings(host.get("CapAdd")),
        cap_drop=_strings(host.get("CapDrop")),
        security_opt=_strings(host.get("SecurityOpt")),
        pids_limit=_limit(host.get("PidsLimit")),
        memory_bytes=_limit(host.get("Memory")),
        cpus=nano / 1e9 if isinstance(nano, int) and nano > 0 else None,
        read_only=bool(host.get("ReadonlyRootfs", False)),
        mounts=tuple(
            sorted(
                [_mount(m) for m in mounts if isinstance(m, dict)]
                + [_tmpfs(t, o) for t, o in (host.get("Tmpfs") or {}).items()]
            )
        ),
    )


def container(data: Json) -> ObservedContainer:
    state = data.get("State") or {}
    health = state.get("Health") or {}
    config = data.get("Config") or {}
    settings = data.get("NetworkSettings") or {}
    attached = settings.get("Networks") or {}
    networks = tuple(sorted(attached.keys()))
    return ObservedContainer(
        id=str(data.get("Id", "")),
        name=str(data.get("Name", "")).lstrip("/"),
        labels=_labels(config.get("Labels")),
        state=str(state.get("Status", "created")),
        health=str(health["Status"]) if health.get("Status") else None,
        networks=networks,
        addresses=_addresses(attached),
        image_id=str(data.get("Image", "")),
        exit_code=int(state.get("ExitCode") or 0),
        facts=facts(data),
    )


def _addresses(attached: object) -> tuple[tuple[str, str], ...]:
    """(network, address) for every IPv4/IPv6 address the engine reports per network ("" when a
    container is not running: none)."""
    if not isinstance(attached, dict):
        return ()
    found = {
        (str(net), str(info[key]))
        for net, info in attached.items()
        if isinstance(info, dict)
        for key in ("IPAddress", "GlobalIPv6Address")
        if info.get(key)
    }
    return tuple(sorted(found))


BRIDGE_OPTION = "com.docker.network.bridge.name"


def network(data: Json) -> ObservedNetwork:
    ipam = data.get("IPAM") or {}
    subnets = tuple(
        str(c["Subnet"])
        for c in (ipam.get("Config") or [])
        if isinstance(c, dict) and c.get("Subnet")
    )
    nid, driver = str(data.get("Id", "")), str(data.get("Driver", ""))
    options = data.get("Options")
    bridge = str(options.get(BRIDGE_OPTION) or "") if isinstance(options, dict) else ""
    if not bridge and driver == "bridge" and nid:
        bridge = f"br-{nid[:12]}"  # Docker's name for a user-defined bridge
    return ObservedNetwork(
        id=nid,
        name=str(data.get("Name", "")),
        labels=_labels(data.get("Labels")),
        driver=driver,
        internal=bool(data.get("Internal", False)),
        subnets=subnets,
        bridge=bridge,
    )


def volume(data: Json) -> ObservedVolume:
    return ObservedVolume(name=str(data.get("Name", "")), labels=_labels(data.get("Labels")))


def image(ref: str, data: Json) -> ObservedImage:
    config = data.get("Config") or {}
    return ObservedImage(ref=ref, id=str(data.get("Id", "")), labels=_labels(config.get("Labels")))


def _normal(ref: str) -> str:
    """`busybox` → `busybox:latest`; digests and tags kept."""
    if "@" in ref:
        return ref
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last else f"{ref}:latest"


def match_images(refs: list[str], found: list[Json], missing: set[str]) -> dict[str, ObservedImage]:
    """Pair inspect results with the refs asked for.

    The CLI prints found objects in argument order, so with the missing refs (named in stderr)
    removed the rest pair up in order. If the counts disagree, match by tag, digest or id instead.
    """
    present = [r for r in refs if r not in missing]
    if len(present) == len(found):
        return {ref: image(ref, data) for ref, data in zip(present, found, strict=True)}
    out: dict[str, ObservedImage] = {}
    for ref in refs:
        want = _normal(ref)
        for data in found:
            names = {*(data.get("RepoTags") or []), *(data.get("RepoDigests") or [])}
            ident = str(data.get("Id", ""))
            if (
                want in names
                or ref in names
                or ident == ref
                or ident.split(":")[-1].startswith(ref)
            ):
                out[ref] = image(ref, data)
                break
    return out


def missing_refs(stderr: str) -> set[str]:
    """Refs named by `No such image: X` / `No such container: X` / `network X not found` lines."""
    out: set[str] = set()
    for line in stderr.splitlines():
        text = line.strip()
        if "No such" in text and ":" in text:
            out.add(text.rsplit(": ", 1)[-1].strip())
        elif text.endswith(" not found") and text.split(" ")[-3:-2]:
            out.add(text.split(" ")[-3])
        elif text.endswith(": no such volume"):
            out.add(text[: -len(": no such volume")].rsplit(" ", 1)[-1])
    return out


def json_list(stdout: str) -> tuple[str, ...]:
    """A `{{json .X}}` list of strings (e.g. SecurityOptions)."""
    try:
        data = json.loads(stdout.strip() or "null")
    except json.JSONDecodeError:
        return ()
    return tuple(str(x) for x in data) if isinstance(data, list) else ()


def snapshot(
    session: str,
    want: Want,
    containers: Iterable[ObservedContainer],
    networks: Iterable[ObservedNetwork],
    volumes: Iterable[ObservedVolume],
) -> Snapshot:
    """Sort what an adapter observed into the session's own, foreign and external objects."""
    snap = Snapshot(session=session)
    c_names = set(want.containers)
    for c in containers:
        if c.labels.get(LABEL_SESSION) == session:
            snap.containers[c.name] = c
        elif c.name in c_names:
            snap.foreign_containers[c.name] = c
    n_names = set(want.networks)
    for n in networks:
        if n.name in want.external_networks:
            snap.external_networks[n.name] = n
        elif n.labels.get(LABEL_SESSION) == session:
            snap.networks[n.name] = n
        elif n.name in n_names:
            snap.foreign_networks[n.name] = n
    v_names = set(want.volumes)
    for v in volumes:
        if v.name in want.external_volumes:
            snap.external_volumes[v.name] = v
        elif v.labels.get(LABEL_SESSION) == session:
            snap.volumes[v.name] = v
        elif v.name in v_names:
            snap.foreign_volumes[v.name] = v
    return snap
