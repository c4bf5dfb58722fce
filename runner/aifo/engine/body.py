"""Pure builders of Engine API request bodies from the model: what `args.py` is for the CLI.

Each body asks the daemon for exactly what the equivalent `docker create` / `network create`
command line does (tested side by side against the real engine), so a container made by either
transport inspects the same and plans the same. Secret environment variables never enter a body.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from aifo.engine.args import LOCK_IMAGE, tmpfs_options
from aifo.model import Container, Healthcheck, Mount, Port

Json = dict[str, Any]
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_SIZE = re.compile(r"^([0-9]+)([bkmg]?)\Z", re.IGNORECASE)


def size_bytes(text: str) -> int:
    """`64m` → 67108864: the CLI's binary units (b, k, m, g)."""
    match = _SIZE.match(text.strip())
    if not match:
        raise ValueError(f"not a size: {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def nanos(seconds: float) -> int:
    return round(seconds * 1000) * 1_000_000  # the CLI's millisecond durations, exactly


def capability(name: str) -> str:
    """As the CLI normalises it: `chown` → `CAP_CHOWN`; `ALL` stays."""
    upper = name.upper()
    return upper if upper == "ALL" or upper.startswith("CAP_") else f"CAP_{upper}"


def mount(m: Mount, volumes: Mapping[str, str]) -> Json:
    out: Json = {"Type": m.kind, "Target": m.target}
    if m.kind == "bind":
        out["Source"] = m.source or ""
    elif m.kind == "volume":
        source = m.source or ""
        out["Source"] = volumes.get(source, source)
    if m.read_only and m.kind != "tmpfs":
        out["ReadOnly"] = True
    if m.kind == "tmpfs" and m.tmpfs_size:
        out["TmpfsOptions"] = {"SizeBytes": size_bytes(m.tmpfs_size)}
    return out


def healthcheck(check: Healthcheck) -> Json:
    """As the CLI sends it: exec form becomes the shell string `shlex.join(argv)`."""
    kind, *rest = check.test or ("NONE",)
    if kind == "NONE":
        return {"Test": ["NONE"]}
    cmd = rest[0] if kind == "CMD-SHELL" and len(rest) == 1 else shlex.join(rest)
    out: Json = {
        "Test": ["CMD-SHELL", cmd],
        "Interval": nanos(check.interval_s),
        "Timeout": nanos(check.timeout_s),
        "Retries": check.retries,
    }
    if check.start_period_s > 0:
        out["StartPeriod"] = nanos(check.start_period_s)
    return out


def port_key(port: Port) -> str:
    return f"{port.container_port}/{port.protocol}"


def port_binding(port: Port) -> Json:
    return {
        "HostIp": port.host_ip,
        "HostPort": "" if port.host_port is None else str(port.host_port),
    }


def endpoint(aliases: Sequence[str]) -> Json:
    return {"Aliases": list(aliases)} if aliases else {}


def create_container(
    container: Container,
    *,
    labels: Mapping[str, str],
    network: str | None,
    volumes: Mapping[str, str],
) -> Json:
    """The `POST /containers/create` body. `network`: the first network (with the aliases), or
    None for network mode `none`; the caller connects the rest."""
    c = container
    command = list(c.command) if c.command is not None else None
    entrypoint: list[str] | None = None
    if c.entrypoint is not None:
        first, *rest = c.entrypoint or ("",)
        entrypoint = [first] if first else [""]
        command = [*rest, *(command or [])]
    host: Json = {
        "NetworkMode": network or "none",
        "Mounts": [mount(m, volumes) for m in c.mounts if m.kind != "tmpfs"],
        "Tmpfs": {m.target: tmpfs_options(m) for m in c.mounts if m.kind == "tmpfs"} or None,
        "CapAdd": [capability(x) for x in c.cap_add] or None,
        "CapDrop": [capability(x) for x in c.cap_drop] or None,
        "SecurityOpt": (["no-new-privileges"] if c.no_new_privileges else []) + list(c.security_opt)
        or None,
        "ReadonlyRootfs": c.read_only,
        "Privileged": c.privileged,
        "Init": True if c.init else None,
        "RestartPolicy": {"Name": c.restart or "no"},
        "PortBindings": {},
    }
    if c.memory_bytes is not None:
        host["Memory"] = c.memory_bytes
    if c.cpus is not None:
        host["NanoCpus"] = round(c.cpus * 1e9)
    if c.pids_limit is not None:
        host["PidsLimit"] = c.pids_limit
    exposed: Json = {}
    for port in c.ports:
        exposed[port_key(port)] = {}
        host["PortBindings"].setdefault(port_key(port), []).append(port_binding(port))
    body: Json = {
        "Image": c.image,
        "Labels": {**dict(c.labels), **labels},
        "Env": [f"{v.key}={v.value or ''}" for v in c.env if not v.secret],
        "Cmd": command or None,
        "Entrypoint": entrypoint,
        "User": c.process_user or "",
        "WorkingDir": c.working_dir or "",
        "Hostname": c.hostname or "",
        "ExposedPorts": exposed or None,
        "Tty": c.tty,
        "OpenStdin": c.tty,
        "AttachStdin": c.tty,
        "AttachStdout": True,
        "AttachStderr": True,
        "HostConfig": host,
    }
    if c.healthcheck is not None:
        body["Healthcheck"] = healthcheck(c.healthcheck)
    if network is not None:
        body["NetworkingConfig"] = {"EndpointsConfig": {network: endpoint(c.aliases)}}
    return body


def connect(container: str, aliases: Sequence[str]) -> Json:
    """The `POST /networks/{id}/connect` body."""
    return {"Container": container, "EndpointConfig": endpoint(aliases)}


def create_network(
    name: str, *, driver: str, internal: bool, subnet: str | None, labels: Mapping[str, str]
) -> Json:
    body: Json = {
        "Name": name,
        "Driver": driver,
        "Internal": internal,
        "CheckDuplicate": True,
        "Labels": dict(labels),
    }
    if subnet:
        body["IPAM"] = {"Driver": "default", "Config": [{"Subnet": subnet}]}
    return body


def create_volume(name: str, labels: Mapping[str, str]) -> Json:
    return {"Name": name, "Labels": dict(labels)}


def create_lock(labels: Mapping[str, str]) -> Json:
    """A session lock (`args.lock_create_args`): never started, no network, nothing to run."""
    return {"Image": LOCK_IMAGE, "Labels": dict(labels), "HostConfig": {"NetworkMode": "none"}}
