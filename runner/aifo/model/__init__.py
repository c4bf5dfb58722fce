"""The typed desired state: frozen dataclasses compiled from a resolved spec (aifo.compile).

Everything is fully defaulted here, so the planner and the engine adapter never guess. Each
resource knows its graph id (`<kind>/<name>`, also the `io.aifo.resource` label), its Docker name
and its `config_hash` (sha256 of its canonical JSON; see aifo.model.hashing).

Secret env values are never stored: an `EnvVar` with `secret=True` carries only where the value
comes from, plus a keyed digest that feeds the hash. The value is fetched at apply time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from aifo import __version__
from aifo.location import JsonPath

Role = Literal["agent", "toolchain", "service"]
PullPolicy = Literal["missing", "always", "never"]
Readiness = Literal["started", "healthy"]
MountKind = Literal["bind", "volume", "tmpfs"]

LABEL_SESSION = "io.aifo.session"
LABEL_RESOURCE = "io.aifo.resource"
LABEL_HASH = "io.aifo.config-hash"
LABEL_VERSION = "io.aifo.version"
LABEL_DEPENDS = "io.aifo.depends-on"  # containers: the resource ids it needs (destroy order)
LABEL_FORK = "io.aifo.fork"  # containers of a fork: `<main session>/<I>` (docs/fork.md)
LABEL_SCOPE = "io.aifo.scope"  # volumes: "shared" when other sessions may use it too
# Swarm (aifo.engine.swarm): a service's aifo name (Swarm cannot rename a service), the digest
# of the spec aifo gave it (drift), a container's private overlay (no networks declared), and
# the spec's driver of an overlay aifo made
LABEL_SWARM_NAME = "io.aifo.name"
LABEL_SWARM_DIGEST = "io.aifo.service-digest"
LABEL_SWARM_SOLO = "io.aifo.solo"
LABEL_SWARM_DRIVER = "io.aifo.driver"
LABEL_SWARM_NO_NNP = "io.aifo.no-new-privileges-opt-out"  # the spec opted out (verification)
# the session whose container has this volume (the route's tmpfs on Swarm): not a spec volume
LABEL_SWARM_ROUTE_VOLUME = "io.aifo.route-volume-of"
# a workspace copy's helper container (aifo.engine.volumecopy): the volume it mounts, so a
# helper whose removal failed is found and removed with its volume
LABEL_VOLUME_HELPER = "io.aifo.volume-helper-of"
# The session lock (aifo.apply.enginelock): a container labelled with the session and this
# resource value, its holder described in LABEL_LOCK_HOLDER (JSON). Never a resource of the spec.
LOCK_RESOURCE = "lock/session"
LABEL_LOCK_HOLDER = "io.aifo.lock.holder"
LABEL_PREFIX = "io.aifo."  # reserved: a spec's own labels may not use it (spec.semantics)
LABEL_DOCTOR = "io.aifo.doctor"  # the network `aifo doctor` creates (and removes) to check
LABEL_HOST_CA = "io.aifo.host-ca"  # the CA layer image of `image.build.trust_host_cas`
# Debian stand-ins of real images (scripts/seed-images writes it: a script without the package)
LABEL_STAND_IN = "io.aifo.stand-in"
# Built images: the build identity (aifo.model.hashing.build_identity) they were built from, so a
# fixed `image.name` is rebuilt when its Dockerfile, context, args or target change.
LABEL_BUILD = "io.aifo.build"
BUILD_TAG_LENGTH = 12  # a content-addressed build tag: the identity's first characters


def is_lock(labels: Mapping[str, str]) -> bool:
    """The session lock object: observe, plan, status and destroy leave it out."""
    return labels.get(LABEL_RESOURCE) == LOCK_RESOURCE


def aifo_labels(
    session: str, rid: str, config_hash: str, user: tuple[tuple[str, str], ...] = ()
) -> dict[str, str]:
    """The labels on every object aifo creates (the user's own first; ours win)."""
    labels = dict(user)
    labels.update(
        {
            LABEL_SESSION: session,
            LABEL_RESOURCE: rid,
            LABEL_HASH: config_hash,
            LABEL_VERSION: __version__,
        }
    )
    return labels


def docker_name(session: str, name: str) -> str:
    """The Docker object name contract: `aifo-<session>-<name>`."""
    return f"aifo-{session}-{name}"


# A replacement container lives under a temporary name until commit renames it: `<name>.next`,
# else `<name>.next2`, ... when a leftover holds it. The one home of that rule: the planner picks
# from these, observe asks about all of them, status knows them.
TEMP_SUFFIX = ".next"
TEMP_NAMES = 3


def temp_names(name: str) -> tuple[str, ...]:
    """Every temporary name a replacement of container `name` may take, in order."""
    return tuple(f"{name}{TEMP_SUFFIX}{'' if n == 1 else n}" for n in range(1, TEMP_NAMES + 1))


def is_temp_name(name: str) -> bool:
    """Whether `name` is some container's replacement name (`….next`, `….next2`, ...)."""
    base, sep, n = name.rpartition(TEMP_SUFFIX)
    return bool(base and sep) and (n == "" or (n.isdigit() and 2 <= int(n) <= TEMP_NAMES))


@dataclass(frozen=True)
class Network:
    """A network the session declares (or an external one it joins)."""

    name: str
    docker_name: str  # for external networks, the pre-existing network's own name
    internal: bool = False
    external: bool = False
    driver: str = "bridge"
    subnet: str | None = None
    labels: tuple[tuple[str, str], ...] = ()  # user labels, sorted; aifo's own are added by apply
    # internal only: `allow: [host]` — no host guard, its containers may reach the host's own
    # addresses (docs/security.md)
    host_reach: bool = False
    config_hash: str = ""

    @property
    def id(self) -> str:
        return f"network/{self.name}"

    @property
    def guarded(self) -> bool:
        """Whether apply keeps this network's containers off the host (aifo.engine.firewall)."""
        return self.internal and not self.external and not self.host_reach


@dataclass(frozen=True)
class Volume:
    """A named volume the session declares (or an external one it mounts)."""

    name: str
    docker_name: str
    external: bool = False
    shared: bool = False  # scope: shared — one volume for every session (caches)
    labels: tuple[tuple[str, str], ...] = ()
    config_hash: str = ""
    # a host folder copied into the volume when apply creates it (the workspace on a Swarm
    # node that is not this machine: docs/swarm.md); never again, so the agent's work stays
    seed: str | None = None

    @property
    def id(self) -> str:
        return f"volume/{self.name}"


@dataclass(frozen=True)
class Build:
    """How an image is built from a local context."""

    context: str  # absolute path
    dockerfile: str | None = None  # relative to context
    args: tuple[tuple[str, str], ...] = ()
    target: str | None = None
    context_hash: str = ""  # sha256 over the files the build would send (minus .dockerignore)
    # trust_host_cas: the host's CA bundle (absolute path) copied into the build (aifo.host.cas),
    # and its sha256, so a changed bundle is a changed build
    ca_bundle: str | None = None
    ca_bundle_hash: str = ""


@dataclass(frozen=True)
class Image:
    """An image a container runs: pulled by reference, or built."""

    # e.g. "rust:1.82-slim"; builds: "aifo-<session>-<container>:<context-hash[:12]>"
    ref: str
    build: Build | None = None
    pull: PullPolicy = "missing"
    config_hash: str = ""

    @property
    def id(self) -> str:
        return f"image/{self.ref}"


@dataclass(frozen=True)
class EnvVar:
    """One environment variable of a container; a secret keeps only its digest."""

    key: str
    # A secret's value is kept only when the spec writes it literally ({value, secret: true}):
    # it has no other source. Hashes, plans and renderings see only `digest`.
    value: str | None = None
    secret: bool = False
    from_host: str | None = None  # host environment variable to read at apply time
    from_file: str | None = None  # absolute path of a file to read at apply time
    digest: str | None = None  # keyed digest of a secret's value (aifo.state.secrets), for the hash
    required: bool = True  # a secret without a value is an error at apply/exec time
    default: str | None = None  # a secret from_host's fallback value (itself secret)

    def __repr__(self) -> str:
        # Sessions end up in debug logs and test output: a secret's value must not.
        if not self.secret:
            return f"EnvVar(key={self.key!r}, value={self.value!r})"
        where = f"from_host={self.from_host!r}, " if self.from_host else ""
        where += f"from_file={self.from_file!r}, " if self.from_file else ""
        return f"EnvVar(key={self.key!r}, secret=True, {where}digest={self.digest!r})"


@dataclass(frozen=True)
class Mount:
    """A bind, volume or tmpfs mount of a container."""

    kind: MountKind
    target: str
    source: str | None = None  # bind: absolute host path; volume: volume *spec* name; tmpfs: None
    read_only: bool = False
    tmpfs_size: str | None = None


@dataclass(frozen=True)
class Port:
    """A container port, published on the host when `host_port` is set."""

    container_port: int
    host_port: int | None = None
    host_ip: str = "127.0.0.1"  # loopback unless the spec says otherwise: agents aren't servers
    protocol: Literal["tcp", "udp"] = "tcp"


@dataclass(frozen=True)
class Healthcheck:
    """A container's healthcheck, in Docker's terms."""

    test: tuple[str, ...]  # Docker form: ("CMD", ...) or ("CMD-SHELL", "...")
    interval_s: float = 5.0
    timeout_s: float = 3.0
    retries: int = 3
    start_period_s: float = 0.0


@dataclass(frozen=True)
class Dependency:
    """A container this one waits for, and until what it must be."""

    target: str  # graph id of the container depended on, e.g. "service/db"
    condition: Readiness = "started"


@dataclass(frozen=True)
class Egress:
    """What a container may reach outside, through the session's egress proxy (docs/egress.md)."""

    allow: tuple[str, ...]  # HOST[:PORT] patterns, normalised (aifo.egress.rules)
    via: str  # the network spec name the proxy reaches the outside through


HOLDER_USER = "65534:65534"  # a routed toolchain's own process: no exec'd command runs as it


@dataclass(frozen=True)
class Container:
    """One container of the session, as apply creates it."""

    name: str
    role: Role
    docker_name: str
    image: str  # Image.ref
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    run: tuple[str, ...] | None = None  # the agent's own command, exec'd by `aifo run`
    env: tuple[EnvVar, ...] = ()  # sorted by key
    mounts: tuple[Mount, ...] = ()  # sorted by target
    networks: tuple[str, ...] = ()  # network spec names, sorted; empty → network mode "none"
    aliases: tuple[str, ...] = ()  # DNS names on every attached network (the spec name)
    user: str | None = None  # "uid:gid"; None = image default
    working_dir: str | None = None
    hostname: str | None = None
    memory_bytes: int | None = None
    cpus: float | None = None
    pids_limit: int | None = None
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    no_new_privileges: bool = True
    read_only: bool = False
    privileged: bool = False
    security_opt: tuple[str, ...] = ()  # extra, e.g. ("apparmor=docker-default",)
    init: bool = True  # idle sidecars stop at once instead of waiting out Docker's 10 s
    restart: str = "no"
    tty: bool = False
    healthcheck: Healthcheck | None = None
    labels: tuple[tuple[str, str], ...] = ()  # user labels; aifo's own are added by apply
    ports: tuple[Port, ...] = ()
    depends_on: tuple[Dependency, ...] = ()
    readiness_timeout_s: float = 60.0
    toolchains: tuple[str, ...] = ()  # graph ids of toolchain containers (agents only)
    host_dirs: tuple[str, ...] = ()  # bind sources with `create: true`: made when missing
    tools: tuple[str, ...] = ()  # toolchains: the commands routed to them (aifo.route), sorted
    pass_env: tuple[str, ...] = ()  # toolchains: caller variables a routed command receives
    # agents: (tool, toolchain graph id) for every routed tool, sorted by tool; when toolchains
    # provide the same tool, the first in the agent's `toolchains:` list wins.
    routes: tuple[tuple[str, str], ...] = ()
    route_limit: int = 8  # agents: routed commands at once
    route_timeout_s: float | None = None  # agents: a routed command's maximum runtime
    egress: Egress | None = None  # allowlist through the proxy; its env is what Docker sees
    config_hash: str = ""

    @property
    def id(self) -> str:
        return f"{self.role}/{self.name}"

    @property
    def process_user(self) -> str | None:
        """Who the container's own process (PID 1, its command) runs as. A toolchain that serves
        routed tools keeps it apart from `user`, whom every exec runs as: a routed command then
        cannot signal the sidecar the agents share (docs/routing.md)."""
        return HOLDER_USER if self.role == "toolchain" and self.tools else self.user

    @property
    def secrets(self) -> tuple[EnvVar, ...]:
        return tuple(e for e in self.env if e.secret)


@dataclass(frozen=True)
class Hook:
    """A bootstrap command run once in a container right after it is (re)created."""

    name: str
    container: str  # graph id of the container
    command: tuple[str, ...]
    user: str | None = None
    config_hash: str = ""

    @property
    def id(self) -> str:
        return f"hook/{self.container.split('/', 1)[1]}/{self.name}"


Resource = Network | Volume | Image | Container | Hook


@dataclass(frozen=True)
class Session:
    """The whole desired state of one session, keyed by graph id."""

    name: str
    networks: tuple[Network, ...] = ()
    volumes: tuple[Volume, ...] = ()
    images: tuple[Image, ...] = ()
    containers: tuple[Container, ...] = ()
    hooks: tuple[Hook, ...] = ()
    spec_file: str | None = None
    resources: dict[str, Resource] = field(default_factory=dict, compare=False, repr=False)
    # (dependent id, dependency id) -> the spec path that declared that edge, for located errors
    # (e.g. ("agents", "a", "depends_on", 1)); filled by compile, read by aifo.model.graph.
    origins: dict[tuple[str, str], JsonPath] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        everything: tuple[Resource, ...] = (
            *self.networks,
            *self.volumes,
            *self.images,
            *self.containers,
            *self.hooks,
        )
        self.resources.update({r.id: r for r in everything})
