"""The engine contract: what the reconciler may ask of Docker. Pure typing; no Docker imports.

`aifo.engine.client.DockerEngine` implements it over the raw `docker` CLI (python-on-whales
only off the hot path; see docs/engine.md). Tests wrap it (fault injection) or, for planner unit
tests only, fake it. Every method raises a subclass of `aifo.errors.EngineError`, translated
from the original.

Mutating methods (marked `@mutating`, listed by `mutating_methods()`) are the ones a transaction
journals; each has a named inverse in aifo.apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from aifo.engine.process import ExecProcess
from aifo.model import Build, Container
from aifo.model.observed import ObservedContainer, ObservedNetwork, Snapshot


@dataclass(frozen=True)
class Want:
    """The names a spec would use; observe() reports them whether owned, foreign or external."""

    containers: tuple[str, ...] = ()  # Docker names (including temporary replace names)
    networks: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    external_networks: tuple[str, ...] = ()
    external_volumes: tuple[str, ...] = ()
    images: tuple[str, ...] = ()  # refs


@dataclass(frozen=True)
class Labelled:
    """A session's objects, Docker name -> id, from the listings alone (what destroy needs)."""

    containers: Mapping[str, str]
    networks: Mapping[str, str]
    volumes: Mapping[str, str]
    # container Docker name -> the Docker names of the session's containers it depends on
    # (from its `io.aifo.depends-on` label), so destroy can stop dependents first
    depends: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class SessionSummary:
    """One session on this engine, from its objects' labels (`aifo ls`)."""

    name: str
    containers: int = 0
    running: int = 0
    networks: int = 0
    volumes: int = 0


@dataclass(frozen=True)
class EngineFacts:
    """What `aifo doctor` asks of the engine; None where it could not be learned."""

    engine: str = "Docker"  # or "Podman"
    server_version: str | None = None
    api_version: str | None = None
    os: str | None = None
    storage_driver: str | None = None
    security_options: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    buildx: bool = False
    internal_network: str | None = None  # None: works; else why creating one failed
    host_guard: str | None = None  # None: a probe network was guarded; else why not
    stand_in_images: int = 0
    error: str | None = None  # the engine could not be reached at all


Method = TypeVar("Method", bound=Callable[..., Any])


def mutating(method: Method) -> Method:
    """Marks an Engine method that changes the engine's state (journaled, with an inverse)."""
    method.mutating = True  # type: ignore[attr-defined]
    return method


def mutating_methods() -> frozenset[str]:
    """The names of the Engine methods that change the engine's state."""
    return frozenset(n for n, f in vars(Engine).items() if getattr(f, "mutating", False))


@dataclass(frozen=True)
class BuildStep:
    """One step of an image build, reported as it starts: `3/9`, `RUN npm install …`."""

    number: int
    total: int
    instruction: str


OnStep = Callable[[BuildStep], None]


class Engine(Protocol):
    def ping(self) -> None:
        """Raise EngineUnavailable unless the daemon answers."""

    def observe(self, session: str, want: Want) -> Snapshot:
        """One batched snapshot: list by label, then one inspect per kind with many ids."""

    def security_options(self) -> tuple[str, ...]:
        """The daemon's security options, e.g. `name=apparmor`, `name=seccomp,profile=default`."""

    def labelled(self, session: str) -> Labelled:
        """Only the listings (one round of parallel calls): the objects carrying the label."""

    # -- the session lock (aifo.apply.enginelock); not journaled: outside the transaction --
    def create_lock(self, name: str, labels: Mapping[str, str]) -> str:
        """Create the lock object `name` (a never-started container) and return its id, or
        raise Conflict when the name is taken: Docker reserves container names atomically."""

    def remove_lock(self, ref: str) -> None:
        """Remove a lock object; a missing one raises NotFound."""

    # -- networks ---------------------------------------------------------------------------
    @mutating
    def create_network(
        self,
        name: str,
        *,
        driver: str,
        internal: bool,
        subnet: str | None,
        labels: Mapping[str, str],
    ) -> str:
        """Create and return the id. Raw CLI args, since python-on-whales lacks --internal."""

    def inspect_networks(self, refs: Sequence[str]) -> list[ObservedNetwork]:
        """One `docker network inspect` call for all refs (ids or names).

        Refs that don't exist are omitted from the result (never NotFound); compare names or ids
        to learn which are missing.
        """

    @mutating
    def remove_network(self, ref: str) -> None: ...

    @mutating
    def connect_network(self, network: str, ref: str, aliases: Sequence[str] = ()) -> None:
        """Attach a container (created or running) to a network, with DNS aliases."""

    @mutating
    def disconnect_network(self, network: str, ref: str) -> None:
        """Detach a container from a network (the default bridge included)."""

    # -- the host guard (aifo.engine.firewall): internal networks kept off the host -----------
    def host_guard_problem(self) -> str | None:
        """None when aifo can set the host guard from here (root, iptables); else why not."""

    @mutating
    def guard_network(self, session: str, network: ObservedNetwork) -> bool:
        """Make the engine's host drop new connections from the network's bridge to any of its
        addresses (IPv4 and IPv6), then read the rules back; True when rules were added, False
        when they were already there. Raises (fail closed) when that cannot be done or shown."""

    @mutating
    def unguard_network(self, session: str, network: str | None = None) -> int:
        """Remove the guard rules of `session` (of one network, by Docker name); return how
        many. Rules are found by their exact `aifo-guard session=… network=…` comment."""

    def network_guards(self, session: str) -> dict[str, tuple[str, ...]]:
        """Docker network name -> the bridges whose new connections the host drops in every
        address family, read back from the firewall."""

    # -- volumes ----------------------------------------------------------------------------
    @mutating
    def create_volume(self, name: str, *, labels: Mapping[str, str]) -> None: ...

    @mutating
    def remove_volume(self, name: str) -> None: ...

    # -- the workspace where a host bind cannot reach (aifo.engine.volumecopy) --------------
    def binds_reach(self, session: str) -> bool:
        """Whether a host folder bound into `session`'s containers is this machine's folder:
        True for Docker and Podman; on Swarm only when the session's node is this machine (its
        engine's ID is the local engine's). When False, compile puts the workspace in a volume
        filled from a clone and refuses every other bind (docs/swarm.md)."""

    @mutating
    def fill_volume(self, volume: str, source: str, *, labels: Mapping[str, str]) -> None:
        """Copy host folder `source` into the volume's root (owners, modes, links kept), on
        the volume's node, through a never-started helper container carrying `labels` (the
        session's), removed after. Undone by removing the volume."""

    def read_volume(self, volume: str, dest: str, *, labels: Mapping[str, str]) -> None:
        """The volume's content as the new host folder `dest` (absent before; its parent
        exists): untrusted, unpacked safely and bounded; a helper as `fill_volume`'s."""

    # -- images -----------------------------------------------------------------------------
    @mutating
    def pull_image(self, ref: str) -> None: ...

    @mutating
    def build_image(
        self,
        ref: str,
        build: Build,
        *,
        labels: Mapping[str, str],
        on_step: OnStep | None = None,
    ) -> None:
        """Build with buildx when present, else the legacy builder (DOCKER_BUILDKIT=0); each
        step is reported to `on_step` as it starts; a failure raises BuildFailed with the step's
        output; no intermediate container is left behind."""

    @mutating
    def remove_image(self, ref: str) -> None: ...

    # -- containers -------------------------------------------------------------------------
    @mutating
    def create_container(
        self,
        container: Container,
        *,
        name: str,
        labels: Mapping[str, str],
        networks: Sequence[str],
        volumes: Mapping[str, str],
    ) -> str:
        """Create (not start) and return the id.

        `networks` are Docker network names in order; the container is created on the first (or
        with network mode `none` when empty) and connected to the rest, with its aliases, before
        it is started. `volumes` maps volume spec names to Docker volume names.
        """

    @mutating
    def start_container(self, ref: str) -> None: ...

    @mutating
    def start_containers(self, refs: Sequence[str]) -> None:
        """Start several containers with one call (`docker start A B C`); raise if any failed."""

    @mutating
    def stop_container(self, ref: str, *, timeout_s: float = 10.0) -> None: ...

    @mutating
    def stop_containers(self, refs: Sequence[str], *, timeout_s: float = 10.0) -> None:
        """Stop several containers with one call (`docker stop -t N A B C`): SIGTERM, then
        SIGKILL after `timeout_s`. Refs that don't exist are ignored; other failures raise."""

    @mutating
    def remove_container(self, ref: str) -> None:
        """Force-remove; a missing container raises NotFound."""

    @mutating
    def remove_containers(self, refs: Sequence[str]) -> None:
        """Force-remove several containers with one call (`docker rm -f A B C`).

        Refs that don't exist are ignored (destroy and rollback are idempotent); any other
        failure raises after every ref was tried.
        """

    @mutating
    def rename_container(self, ref: str, new_name: str) -> None: ...

    def inspect_containers(self, refs: Sequence[str]) -> list[ObservedContainer]:
        """One `docker container inspect` call for all refs.

        Refs that don't exist are omitted from the result (never NotFound); `DockerEngine`
        also offers `find_containers(refs) -> {ref: container}` for "which are missing?".
        """

    def exec(
        self,
        ref: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        tty: bool = False,
        interactive: bool = False,
    ) -> int:
        """Run a command in a running container, attached to our stdio; return its exit code.

        Secret values go in `env`; they are passed to the docker CLI through its environment
        (`--env KEY`), never on a command line, so no process listing shows them.
        """

    def exec_start(
        self,
        ref: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        tty: bool = False,
        interactive: bool = False,
        pipes: bool = False,
        own_group: bool = False,
        size: tuple[int, int] | None = None,
    ) -> ExecProcess:
        """Start an exec and return the docker CLI process: stdio piped (`pipes`) or ours.

        `env` travels like `exec`'s. `own_group`: the CLI gets its own process group, so a
        terminal's Ctrl-C reaches only the caller, who delivers it with `signal_marked`. With
        `pipes` and `tty`, the process gets a terminal of `size` (rows, columns) and its output
        arrives on stdout alone, where the adapter can (the API); elsewhere `tty` is ignored.
        """

    def signal_marked(
        self,
        ref: str,
        marker: str,
        signal: str,
        *,
        user: str | None = None,
        timeout_s: float = 30,
        family: bool = False,
    ) -> int:
        """Send `signal` (INT, TERM, HUP, QUIT, KILL) to every process in `ref` whose environment
        holds the variable `marker` (`KEY=value`, exactly; `family`: every value starting so);
        return how many. `docker exec` forwards no signal, so exec'd processes carry a marker
        and are signalled through this."""

    @mutating
    def exec_capture(
        self,
        ref: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> tuple[int, str]:
        """Like `exec`, but non-interactive with output captured: (exit code, stdout+stderr,
        the last MiB of it).

        Used for hooks, whose output must not interleave with apply's progress or JSON events.
        Secrets in `env` travel like `exec`'s (the request body, or the CLI's environment; never
        argv).
        """

    def container_id(self, ref: str) -> str | None:
        """The id of the container named (or id'd) `ref`; None when there is none."""

    def log_tail(self, ref: str, *, lines: int = 20) -> str:
        """The last `lines` lines a container wrote (stdout, then stderr), for error reports."""

    def log_lines(self, ref: str, *, since: str | None = None) -> list[tuple[str, str]]:
        """A container's stdout lines as (Docker's RFC 3339 timestamp, text), oldest first;
        `since` (inclusive) skips older ones. The egress proxy's access log is read this way."""

    def logs(
        self,
        refs: Sequence[str],
        *,
        write: Callable[[bytes], None],
        follow: bool = False,
        tail: int | None = None,
    ) -> int:
        """Stream the containers' logs; return an exit code. One container: the CLI attached to
        our stdio. Several: each line, prefixed `name | `, handed to `write` (the caller's
        output; the adapter never writes to stdout itself)."""
