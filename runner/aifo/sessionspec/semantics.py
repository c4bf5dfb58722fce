"""Checks the schema cannot express: references, names, ports, external objects, labels; the
`allow:` opt-ins (aifo.sessionspec.optins) and `egress:` (aifo.sessionspec.egress) have their own.

Runs on schema-valid data only; every finding is located via the spec's provenance.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from aifo.issue import Issue
from aifo.model import LABEL_PREFIX
from aifo.sessionspec import bounds, egress, optins, references
from aifo.sessionspec.nodes import JsonPath, Plain, format_path, nearest
from aifo.sessionspec.secrets import is_secret_entry
from aifo.suggest import did_you_mean
from aifo.values import ports as port_values

ROLES = (("agents", "agent"), ("toolchains", "toolchain"), ("services", "service"))
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?\Z")
DOCKER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*\Z")
MAX_HOSTNAME = 63
_ANY_IP = {"0.0.0.0", "::", "[::]"}


def containers(data: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(section, name, container) for every container, agents first."""
    for section, _role in ROLES:
        for name, container in (data.get(section) or {}).items():
            yield section, name, container


class Checker:
    def __init__(self, plain: Plain) -> None:
        self.plain = plain
        self.data: dict[str, Any] = plain.data
        self.issues: list[Issue] = []
        self.warnings: list[Issue] = []

    def add(
        self, path: JsonPath, message: str, hint: str | None = None, *, key: bool = False
    ) -> None:
        loc = (self.plain.keys.get(path) if key else None) or nearest(self.plain.values, path)
        self.issues.append(Issue(loc, format_path(path), message, hint))

    def warn(self, path: JsonPath, message: str) -> None:
        self.warnings.append(Issue(nearest(self.plain.values, path), format_path(path), message))

    def unknown(self, path: JsonPath, kind: str, name: str, known: list[str]) -> None:
        listing = f"declared {kind}s: " + ", ".join(sorted(known)) if known else None
        hint = did_you_mean(name, known, listing or f"no {kind}s are declared")
        self.add(path, f"unknown {kind} {name!r}", hint)

    def run(self) -> None:
        self.images()
        self.names()
        self.external()
        self.references()
        self.ports()
        self.labels()
        self.image_references()
        self.limits()
        optins.check(self)
        self.yaml_booleans()
        egress.check(self.data, self.add, self.unknown)

    def images(self) -> None:
        """Every container has an image once profiles are merged (the schema can't require it:
        a profile may supply it, and editors check each file alone)."""
        for section, name, container in containers(self.data):
            if "image" not in container:
                self.add(
                    (section, name),
                    "no image: set `image:` here, or extend a profile that supplies one",
                    "`aifo profiles` lists the catalog, e.g. extends: [toolchain/rust]",
                    key=True,
                )

    def names(self) -> None:
        session = str(self.data.get("session", ""))
        seen: dict[str, str] = {}
        for section, name, _container in containers(self.data):
            path = (section, name)
            if name in seen:
                self.add(
                    path,
                    f"container name {name!r} is already used in {seen[name]}",
                    "containers share one Docker name space; rename one",
                    key=True,
                )
                continue
            seen[name] = section
            if not DNS_LABEL.match(name):
                self.add(
                    path,
                    f"container name {name!r} is not DNS-safe",
                    "use lowercase letters, digits and '-' (not first or last)",
                    key=True,
                )
            full = f"aifo-{session}-{name}"
            if len(full) > MAX_HOSTNAME:
                self.add(
                    path,
                    f"the Docker name {full} is {len(full)} characters; a hostname "
                    f"allows {MAX_HOSTNAME}",
                    "shorten the session or container name",
                    key=True,
                )
        for section in ("networks", "volumes"):
            for name in self.data.get(section) or {}:
                if not DOCKER_NAME.match(name):
                    self.add(
                        (section, name),
                        f"{section[:-1]} name {name!r} is not valid",
                        "use letters, digits, '_', '.' and '-'",
                        key=True,
                    )
        for section, name, container in containers(self.data):
            hooks = container.get("hooks") or []
            seen_hooks: set[str] = set()
            for i, hook in enumerate(hooks):
                if hook["name"] in seen_hooks:
                    self.add(
                        (section, name, "hooks", i, "name"), f"duplicate hook name {hook['name']!r}"
                    )
                seen_hooks.add(hook["name"])

    def external(self) -> None:
        allowed_external = {"external", "name"}
        for section in ("networks", "volumes"):
            for name, obj in (self.data.get(section) or {}).items():
                if not obj:
                    continue
                kind = section[:-1]
                if obj.get("external"):
                    for key in obj:
                        if key not in allowed_external:
                            self.add(
                                (section, name, key),
                                f"{key!r} is not allowed on an external {kind}",
                                f"aifo never creates or changes an external {kind}; "
                                "only `name` may be given",
                                key=True,
                            )
                elif "name" in obj:
                    self.add(
                        (section, name, "name"),
                        f"'name' is only for an external {kind}",
                        f"add `external: true`, or drop `name` (aifo names it "
                        f"aifo-<session>-{name})",
                        key=True,
                    )

    def references(self) -> None:
        networks = list(self.data.get("networks") or {})
        volumes = list(self.data.get("volumes") or {})
        toolchains = list(self.data.get("toolchains") or {})
        everyone = [name for _s, name, _c in containers(self.data)]
        for section, name, container in containers(self.data):
            base = (section, name)
            for i, net in enumerate(container.get("networks") or []):
                if net not in networks:
                    self.unknown((*base, "networks", i), "network", net, networks)
            if "toolchains" in container and section != "agents":
                self.add(
                    (*base, "toolchains"),
                    "only agents may use toolchains",
                    "move this container under agents:, or drop toolchains",
                    key=True,
                )
            elif section == "agents":
                for i, tool in enumerate(container.get("toolchains") or []):
                    if tool not in toolchains:
                        self.unknown((*base, "toolchains", i), "toolchain", tool, toolchains)
            for key, owner in (("tools", "toolchains"), ("pass_env", "toolchains")):
                if key in container and section != owner:
                    self.add(
                        (*base, key),
                        f"only toolchains may declare {key}",
                        f"move {key} to the toolchain that provides the commands",
                        key=True,
                    )
            if "routing" in container and section != "agents":
                self.add(
                    (*base, "routing"),
                    "only agents route commands",
                    "move routing: to the agent, or drop it",
                    key=True,
                )
            for i, mount in enumerate(container.get("mounts") or []):
                if "volume" in mount and mount["volume"] not in volumes:
                    self.unknown((*base, "mounts", i, "volume"), "volume", mount["volume"], volumes)
            deps = container.get("depends_on") or []
            for i, dep in enumerate(deps):
                path = (
                    (*base, "depends_on", i)
                    if isinstance(deps, list)
                    else (*base, "depends_on", dep)
                )
                if dep == name:
                    self.add(
                        path, "a container cannot depend on itself", key=isinstance(deps, dict)
                    )
                elif dep not in everyone:
                    self.unknown(path, "container", dep, [n for n in everyone if n != name])

    def ports(self) -> None:
        taken: dict[tuple[int, str], list[tuple[str, JsonPath]]] = {}
        for section, name, container in containers(self.data):
            for i, port in enumerate(container.get("ports") or []):
                path = (section, name, "ports", i)
                published = _published(port)
                if published is None:
                    continue
                ip, host_port, proto = published
                if not 1 <= host_port <= 65535:
                    self.add(path, f"host port {host_port} is out of range 1-65535")
                    continue
                for other_ip, other_path in taken.get((host_port, proto), []):
                    if ip == other_ip or ip in _ANY_IP or other_ip in _ANY_IP:
                        self.add(
                            path,
                            f"host port {host_port}/{proto} is already published by "
                            f"{format_path(other_path)}",
                        )
                        break
                taken.setdefault((host_port, proto), []).append((ip, path))

    def labels(self) -> None:
        secrets = _secret_values(self.data)
        owners: list[JsonPath] = [(s, n) for s, n, _c in containers(self.data)]
        owners += [(s, n) for s in ("networks", "volumes") for n in self.data.get(s) or {}]
        for owner in owners:
            obj: Any = self.data
            for part in owner:
                obj = obj[part]
            for key, value in ((obj or {}).get("labels") or {}).items():
                path = (*owner, "labels", key)
                if key.startswith(LABEL_PREFIX):
                    self.add(
                        path,
                        f"label {key!r} uses the reserved prefix io.aifo.",
                        "aifo sets io.aifo.* labels itself; pick another prefix",
                        key=True,
                    )
                if any(secret in value for secret in secrets):
                    self.add(
                        path,
                        "this label would contain a secret value",
                        "labels are visible to anyone who can run `docker inspect`",
                    )

    def image_references(self) -> None:
        """Image references are references (never a flag such as `--privileged`)."""
        for section, name, container in containers(self.data):
            image = container.get("image")
            path: JsonPath = (section, name, "image")
            if image is None:
                continue
            if isinstance(image, dict):
                if "name" not in image:
                    continue
                image, path = image["name"], (*path, "name")
            elif "{version}" in image:
                if not isinstance(container.get("version"), str):
                    continue  # compile reports the missing version
                image = image.replace("{version}", container["version"])
            problem = references.problem(image)
            if problem is not None:
                self.add(
                    path,
                    f"{_short(image)} is not a valid image reference: {problem}",
                    "write it like `name:tag`, `registry:5000/team/name:tag` or "
                    "`name@sha256:<64 hex digits>`",
                )

    def limits(self) -> None:
        """Sizes and durations fit what Docker stores (64-bit bytes and nanoseconds)."""
        for section, name, container in containers(self.data):
            base: JsonPath = (section, name)
            checks: list[tuple[JsonPath, Any, str]] = [
                (
                    (*base, "resources", "memory"),
                    (container.get("resources") or {}).get("memory"),
                    "size",
                ),
                ((*base, "readiness_timeout"), container.get("readiness_timeout"), "duration"),
                (
                    (*base, "routing", "max_runtime"),
                    (container.get("routing") or {}).get("max_runtime"),
                    "duration",
                ),
            ]
            for key in ("interval", "timeout", "start_period"):
                checks.append(
                    (
                        (*base, "healthcheck", key),
                        (container.get("healthcheck") or {}).get(key),
                        "duration",
                    )
                )
            for i, mount in enumerate(container.get("mounts") or []):
                checks.append(((*base, "mounts", i, "size"), mount.get("size"), "size"))
            for path, value, kind in checks:
                if value is None:
                    continue
                problem = (
                    bounds.size_problem(value) if kind == "size" else bounds.duration_problem(value)
                )
                if problem is not None:
                    self.add(path, problem, "use a smaller value")

    def yaml_booleans(self) -> None:
        """An env value written yes/no/on/off would reach the container as "true"/"false"."""
        for section, name, container in containers(self.data):
            for key, value in (container.get("env") or {}).items():
                path = (section, name, "env", key)
                raw = self.plain.raws.get(path)
                if isinstance(value, bool) and raw is not None:
                    word = str(value).lower()
                    self.add(
                        path,
                        f"YAML 1.1 reads the unquoted {raw} as the boolean {word}",
                        f'quote it: "{raw}" (or write {word})',
                    )


def _short(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _published(entry: Any) -> tuple[str, int, str] | None:
    """(host ip, host port, protocol) of a port published on the host, else None."""
    try:
        found = port_values.port(entry if isinstance(entry, dict) else str(entry))
    except (ValueError, KeyError, TypeError):
        return None
    if found.host_port is None:
        return None
    return found.host_ip, found.host_port, found.protocol


def _secret_values(data: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for _section, _name, container in containers(data):
        for entry in (container.get("env") or {}).values():
            if is_secret_entry(entry):
                for key in ("value", "default"):
                    if key in entry and str(entry[key]):
                        found.append(str(entry[key]))
    return found


def check(plain: Plain) -> tuple[list[Issue], list[Issue]]:
    """(errors, warnings) for schema-valid data."""
    checker = Checker(plain)
    checker.run()
    return checker.issues, checker.warnings
