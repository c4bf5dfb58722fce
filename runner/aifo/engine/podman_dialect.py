"""Podman's container inspect (compat API) → Docker's shape, so one parser and one drift
comparison serve both engines. Pure; unit-tested on captured Podman output.

- Capabilities: Podman reports `--cap-drop ALL` as the list of its default capabilities that were
  dropped (and an added default one simply as not dropped). When most defaults are dropped, that
  is reported as Docker says it: `CapDrop: [ALL]` plus the defaults kept as `CapAdd` (the same
  effective set; a spec drops ALL, aifo's default, or names a few).
- Mounts: Podman leaves `HostConfig.Mounts` empty; binds and volumes are in the top-level
  `Mounts` (tmpfs are in `HostConfig.Tmpfs`, where aifo puts them on both engines).
- A read-only root gets Podman's implicit tmpfs on /run, /tmp and /var/tmp (`--read-only-tmpfs`,
  which the compat API cannot turn off): not declared by anyone, so not reported as mounts
  (docs/engine.md notes the difference).
"""

from __future__ import annotations

import copy
from typing import Any

from aifo.engine import body

Json = dict[str, Any]

DEFAULT_CAPS = frozenset(
    {
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
        "NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    }
)  # fmt: skip
READ_ONLY_TMPFS = frozenset({"/run", "/tmp", "/var/tmp"})
_IMPLICIT_OPTIONS = "rw,rprivate,nosuid,nodev,tmpcopyup"


def _bare(cap: str) -> str:
    upper = cap.upper()
    return upper[4:] if upper.startswith("CAP_") else upper


def capabilities(cap_add: list[str], cap_drop: list[str]) -> tuple[list[str], list[str]]:
    """(CapAdd, CapDrop) as Docker reports them."""
    added = {_bare(c) for c in cap_add}
    dropped = {_bare(c) for c in cap_drop}
    if "ALL" in dropped or len(dropped & DEFAULT_CAPS) * 2 <= len(DEFAULT_CAPS):
        return sorted(body.capability(c) for c in added), sorted(cap_drop)
    kept = (DEFAULT_CAPS - dropped) | added
    return sorted(body.capability(c) for c in kept), ["ALL"]


def mounts(data: Json) -> list[Json]:
    """Binds and volumes from the top-level `Mounts`, as `HostConfig.Mounts` entries."""
    out: list[Json] = []
    for m in data.get("Mounts") or []:
        if not isinstance(m, dict) or m.get("Type") not in ("bind", "volume"):
            continue
        source = m.get("Name") if m.get("Type") == "volume" else m.get("Source")
        entry: Json = {"Type": m["Type"], "Source": source or "", "Target": m.get("Destination")}
        if m.get("RW") is False:
            entry["ReadOnly"] = True
        out.append(entry)
    return out


def tmpfs(host: Json) -> dict[str, str]:
    """`HostConfig.Tmpfs` without the read-only root's implicit entries."""
    read_only = bool(host.get("ReadonlyRootfs"))
    return {
        str(target): str(options)
        for target, options in (host.get("Tmpfs") or {}).items()
        if not (read_only and target in READ_ONLY_TMPFS and options == _IMPLICIT_OPTIONS)
    }


def to_docker(data: Json) -> Json:
    """A Podman inspect document in Docker's shape (a copy; the input is not changed)."""
    out = copy.deepcopy(data)
    host = out.setdefault("HostConfig", {})
    add, drop = capabilities(list(host.get("CapAdd") or []), list(host.get("CapDrop") or []))
    host["CapAdd"], host["CapDrop"] = add or None, drop or None
    if not host.get("Mounts"):
        host["Mounts"] = mounts(out)
    host["Tmpfs"] = tmpfs(host) or None
    return out


def network_host_side(data: Json) -> tuple[str, tuple[str, ...]]:
    """(the bridge interface, the gateways where aardvark-dns answers) of a libpod network
    inspect: the compat API reports neither (Docker's `br-<id>` rule does not hold here)."""
    bridge = str(data.get("network_interface") or "")
    if not data.get("dns_enabled"):
        return bridge, ()
    gateways = tuple(
        str(s["gateway"])
        for s in data.get("subnets") or ()
        if isinstance(s, dict) and s.get("gateway")
    )
    return bridge, gateways
