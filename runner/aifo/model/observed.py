"""What Docker has for one session: a snapshot taken once (by aifo.engine) and read purely.

These types are plain data so the planner can be tested with hand-written snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aifo.model import LABEL_HASH


@dataclass(frozen=True)
class ObservedNetwork:
    """A network as the engine reports it."""

    id: str
    name: str
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    driver: str = "bridge"
    internal: bool = False
    subnets: tuple[str, ...] = ()
    bridge: str = ""  # the host interface of a bridge network ("" when unknown)
    # addresses on the host where the engine answers its containers' DNS (Podman's aardvark-dns
    # on the gateway; Docker's resolver lives in each container): the host guard lets port 53 in
    host_dns: tuple[str, ...] = ()

    @property
    def config_hash(self) -> str | None:
        return self.labels.get(LABEL_HASH)


@dataclass(frozen=True)
class ObservedVolume:
    """A volume as the engine reports it."""

    name: str
    labels: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def config_hash(self) -> str | None:
        return self.labels.get(LABEL_HASH)


@dataclass(frozen=True, order=True)
class MountFact:
    """A mount as Docker holds it (HostConfig.Mounts): volume sources are Docker volume names."""

    target: str
    kind: str  # bind | volume | tmpfs
    source: str = ""
    read_only: bool = False
    tmpfs_bytes: int | None = None

    def __str__(self) -> str:
        where = f"{self.source}:" if self.source else ""
        size = f",size={self.tmpfs_bytes}" if self.tmpfs_bytes else ""
        return f"{self.kind} {where}{self.target}{' (ro)' if self.read_only else ''}{size}"


@dataclass(frozen=True)
class ContainerFacts:
    """What isolation a container really has (from inspect), in the shape the spec's values are
    compared in (aifo.plan.drift): capabilities without `CAP_`, sorted; 0/-1 limits as None."""

    user: str = ""
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    pids_limit: int | None = None
    memory_bytes: int | None = None
    cpus: float | None = None
    read_only: bool = False
    mounts: tuple[MountFact, ...] = ()


@dataclass(frozen=True)
class ObservedContainer:
    """A container as the engine reports it."""

    id: str
    name: str
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    state: str = "created"  # created | running | exited | paused | restarting | dead
    health: str | None = None  # starting | healthy | unhealthy | None (no healthcheck)
    networks: tuple[str, ...] = ()  # Docker network names attached, sorted
    # (Docker network name, address) per address the engine reports on each network, sorted;
    # what names an egress record's source address (aifo.egress.naming)
    addresses: tuple[tuple[str, str], ...] = ()
    image_id: str = ""
    exit_code: int = 0
    # None when only listed (or a hand-written snapshot): then only the hash is compared
    facts: ContainerFacts | None = None

    @property
    def config_hash(self) -> str | None:
        return self.labels.get(LABEL_HASH)

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class ObservedImage:
    """An image present in the engine."""

    ref: str
    id: str
    labels: dict[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Snapshot:
    """Objects labelled with this session, plus foreign objects whose names we would use.

    `containers`, `networks` and `volumes` hold what carries `io.aifo.session=<session>`, keyed by
    Docker name. `foreign_*` hold objects with a name aifo wants but without this session's label
    (never adopted, never deleted). `external_networks`/`external_volumes` hold referenced
    pre-existing objects that were found. `images` holds the locally present images the spec names.
    """

    session: str
    containers: dict[str, ObservedContainer] = field(default_factory=dict)
    networks: dict[str, ObservedNetwork] = field(default_factory=dict)
    volumes: dict[str, ObservedVolume] = field(default_factory=dict)
    images: dict[str, ObservedImage] = field(default_factory=dict)
    foreign_containers: dict[str, ObservedContainer] = field(default_factory=dict)
    foreign_networks: dict[str, ObservedNetwork] = field(default_factory=dict)
    foreign_volumes: dict[str, ObservedVolume] = field(default_factory=dict)
    external_networks: dict[str, ObservedNetwork] = field(default_factory=dict)
    external_volumes: dict[str, ObservedVolume] = field(default_factory=dict)
    # network Docker name -> the bridges the host guard drops new connections from
    # (aifo.engine.firewall, read back); None when not read (no guarded network exists yet, or
    # aifo may not read the firewall: apply then fails closed on its own)
    guards: dict[str, tuple[str, ...]] | None = None
