"""What Docker has for one session: a snapshot taken once (by aifo.engine) and read purely.

These types are plain data so the planner can be tested with hand-written snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ObservedNetwork:
    id: str
    name: str
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    driver: str = "bridge"
    internal: bool = False
    subnets: tuple[str, ...] = ()

    @property
    def config_hash(self) -> str | None:
        return self.labels.get("io.aifo.config-hash")


@dataclass(frozen=True)
class ObservedVolume:
    name: str
    labels: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def config_hash(self) -> str | None:
        return self.labels.get("io.aifo.config-hash")


@dataclass(frozen=True)
class ObservedContainer:
    id: str
    name: str
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    state: str = "created"  # created | running | exited | paused | restarting | dead
    health: str | None = None  # starting | healthy | unhealthy | None (no healthcheck)
    networks: tuple[str, ...] = ()  # Docker network names attached, sorted
    image_id: str = ""
    exit_code: int = 0

    @property
    def config_hash(self) -> str | None:
        return self.labels.get("io.aifo.config-hash")

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class ObservedImage:
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
