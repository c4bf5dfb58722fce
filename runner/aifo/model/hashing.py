"""Config hashes: sha256 of canonical JSON, and what each resource's hash covers.

Canonical JSON is `json.dumps(sort_keys=True, separators=(",", ":"))` of the fully defaulted
value, so key order and spelled-out defaults never change a hash (compile applies every default
first). The `io.aifo.config-hash` label stores it; the planner replaces an object whose label
differs. Hence the rule: a hash covers exactly what forces Docker to recreate the object.

A container's hash covers everything Docker fixes at create time (image ref, command,
entrypoint, env, mounts, networks and aliases, user, working dir, hostname, limits, security,
healthcheck, restart, init, tty, ports, user labels, its Docker name) plus the identity of a built
image (context files, Dockerfile, args, target), so a rebuilt image recreates the container. Secret
env vars count only as `{key, digest}`: the keyed digest changes when the value does (a rotated
token recreates the container and reruns the hooks that may have used it) and reveals nothing.
Left out, because they change nothing in Docker: `depends_on`, `readiness_timeout_s` and
`toolchains` (ordering and waiting only), `run` (exec'd by `aifo run`), `host_dirs` (folders
apply makes on the host; the bind source itself is hashed), routing (`tools`, `pass_env`,
`routes` and the limits: read by the router at exec time; the route folder's mount is hashed),
`egress` (the allowlist lives in the proxy's configuration; the client only carries the proxy's
stable address in its env), hooks (their own resources), and a secret's source, `required` flag
and `default` (the digest covers the value).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from aifo.model import Build, Container, EnvVar, Hook, Image, Network, Volume


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def config_hash(value: Any) -> str:
    """sha256 of the canonical JSON of `value`; nested dataclasses hash as their fields."""
    return sha256_hex(_ENCODER.encode(value))


def _fields_of(value: Any) -> dict[str, Any]:
    # The model's dataclasses are frozen without slots: `vars()` is exactly their fields. Letting
    # json's C encoder walk them (tuples become lists) is ~3x faster than `dataclasses.asdict`.
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return vars(value)
    raise TypeError(f"cannot hash {type(value).__name__}")


_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_fields_of
)


# -- what each resource's hash covers (see the module docstring) -----------------------------

CONTAINER_UNHASHED = (
    "config_hash",
    "depends_on",
    "readiness_timeout_s",
    "toolchains",
    "run",
    "host_dirs",
    "tools",
    "pass_env",
    "routes",
    "route_limit",
    "route_timeout_s",
    "egress",
)


def _fields(resource: Any, *left_out: str) -> dict[str, Any]:
    data: dict[str, Any] = dict(_fields_of(resource))
    for name in ("config_hash", *left_out):
        data.pop(name, None)
    return data


def network_hash(network: Network) -> str:
    # the host guard is a firewall rule beside the network, not part of what Docker creates
    return config_hash(_fields(network, "host_reach"))


def volume_hash(volume: Volume) -> str:
    # the seed is what a new volume starts with, not what the volume is: a moved workspace
    # must never replace (empty) the volume that holds the agent's work
    return config_hash(_fields(volume, "seed"))


def image_hash(image: Image) -> str:
    return config_hash(_fields(image))


def build_identity(build: Build) -> str:
    """Everything that decides what `docker build` produces; the context's path does not."""
    return config_hash(_fields(build, "context", "ca_bundle"))


def env_entry(var: EnvVar) -> dict[str, Any]:
    """An env var as hashed: a secret only by its keyed digest, never its value or default."""
    if var.secret:
        return {"key": var.key, "secret": True, "digest": var.digest}
    return {"key": var.key, "value": var.value}


def container_hash(container: Container, image: Image) -> str:
    data = _fields(container, *CONTAINER_UNHASHED)
    data["env"] = [env_entry(e) for e in container.env]
    data["image_build"] = build_identity(image.build) if image.build else None
    if container.process_user != container.user:  # a routed toolchain's holder uid: only then,
        data["process_user"] = container.process_user  # so no other container's hash moves
    return config_hash(data)


def hook_hash(hook: Hook, container_hash: str) -> str:
    """A hook reruns when it changes or when its container is recreated."""
    return config_hash({**_fields(hook), "on": container_hash})
