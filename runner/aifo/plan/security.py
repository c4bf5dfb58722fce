"""What each container of a session may do, in the terms a reviewer asks about. Pure.

`aifo plan` ends with this summary (rendered by aifo.ui.security) so nobody applies a spec
without seeing which containers can reach the internet or the host's own services, write to the
host, read secrets, or hold extra privileges. An agent's reach includes what the toolchains it
routes commands to can reach: a routed `sh` runs there. Only names are reported, never values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from aifo.model import Container, Hook, Session
from aifo.sessionspec.hostpaths import credential_reason, names_engine_socket
from aifo.sessionspec.privileges import is_program_env, is_root_user

ALLOW_HOST = "allow: host"


@dataclass(frozen=True)
class ContainerSecurity:
    """One container's reach and privileges, as compiled."""

    container: str  # graph id, e.g. "agent/codex"
    egress_networks: tuple[str, ...]  # attached networks that are not internal (spec names)
    internal_networks: tuple[str, ...]
    writable_host_paths: tuple[str, ...]  # bind mounts without read_only
    read_only_host_paths: tuple[str, ...]
    secrets: tuple[str, ...]  # env var names whose values are secret
    cap_add: tuple[str, ...]
    drops_all_caps: bool
    no_new_privileges: bool
    privileged: bool
    docker_socket: bool
    runs_as_root: bool  # user is 0 / root, or the image default (unknown, assume the worst)
    published_ports: tuple[str, ...]  # "host_ip:host_port->port/proto"
    egress_allow: tuple[str, ...] | None = None  # the allowlist through the proxy, if any
    egress_via: str | None = None
    credential_paths: tuple[str, ...] = ()  # bind sources holding credentials (`credentials`)
    program_env: tuple[str, ...] = ()  # pass_env names that change how programs run
    # hooks that run as root by an `allow: root` opt-in (a catalog profile's own, say): shown
    # here once rather than warned about by every command
    root_hooks: tuple[str, ...] = ()
    # the networks on which the host's own addresses are in reach: every one that is not
    # internal, and an internal one with `allow: [host]` ("sandbox (allow: host)")
    host_networks: tuple[str, ...] = ()
    # agents: the toolchains their routed commands run in, and what those reach (a routed `sh`
    # is the agent's own reach): "NET via toolchain/T", "only HOSTS via NET (toolchain/T)"
    routes_to: tuple[str, ...] = ()
    routed_egress: tuple[str, ...] = ()
    routed_allow: tuple[str, ...] = ()
    routed_host: tuple[str, ...] = ()

    @property
    def reach(self) -> str:
        """The issue's wording: `egress: none`, `only HOSTS via NET` or `any`; the union of the
        container's own reach and that of the toolchains it routes commands to."""
        anywhere = (*self.egress_networks, *self.routed_egress)
        if anywhere:
            return "any (" + ", ".join(anywhere) + ")"
        allowed = [self.own_allow()] if self.egress_allow is not None else []
        allowed += self.routed_allow
        return "; ".join(allowed) if allowed else "none"

    def own_allow(self) -> str:
        hosts = ", ".join(self.egress_allow or ()) or "no hosts"
        return f"only {hosts} via {self.egress_via}"

    @property
    def host(self) -> str:
        """Which networks (its own, or its toolchains' through routes) reach the host's own
        addresses; `none` when every one is guarded (aifo.engine.firewall)."""
        return ", ".join((*self.host_networks, *self.routed_host)) or "none"

    @property
    def egress(self) -> bool:
        """Whether the container can reach outside networks (any attached non-internal one),
        itself or through a toolchain it routes commands to."""
        return bool(self.egress_networks or self.routed_egress)

    @property
    def risks(self) -> tuple[str, ...]:
        """Short warnings, most severe first; empty when the container is locked down."""
        out: list[str] = []
        if self.privileged:
            out.append("privileged: full access to the host's devices and kernel")
        if self.docker_socket:
            out.append("docker.sock mounted: equivalent to root on the host")
        if self.cap_add:
            out.append("adds capabilities: " + ", ".join(self.cap_add))
        if not self.drops_all_caps:
            out.append("keeps Docker's default capabilities (cap_drop is not ALL)")
        if not self.no_new_privileges:
            out.append("no_new_privileges is off: setuid binaries can raise privileges")
        if self.credential_paths:
            out.append("mounts credentials: " + ", ".join(self.credential_paths))
        if self.program_env:
            out.append("routed commands take from the agent: " + ", ".join(self.program_env))
        if self.egress and self.secrets:
            out.append("holds secrets and can reach outside networks")
        if self.routed_egress and not self.egress_networks:
            out.append(
                "its routed commands reach outside networks: " + ", ".join(self.routed_egress)
            )
        opted = [n for n in (*self.host_networks, *self.routed_host) if ALLOW_HOST in n]
        if opted:
            out.append("can reach services on the host's own addresses: " + ", ".join(opted))
        return tuple(out)


def _host_user_is_root(user: str | None) -> bool:
    return user is None or is_root_user(user)


def _is_docker_socket(path: str | None) -> bool:
    """An engine socket or a folder holding one, by the host-path policy's own rule."""
    return path is not None and names_engine_socket(path)


def container_security(
    container: Container,
    internal: dict[str, bool],
    homes: Sequence[Path] = (),
    hooks: Sequence[Hook] = (),
    host_open: Sequence[str] = (),
) -> ContainerSecurity:
    """Summarize one container; `internal` maps network spec names to their `internal` flag;
    `homes`: the home folders whose credential places (aifo.sessionspec.hostfacts) count;
    `hooks`: the session's (those of this container that run as root are named); `host_open`
    names the internal networks with `allow: [host]`."""
    egress = tuple(n for n in container.networks if not internal.get(n, False))
    closed = tuple(n for n in container.networks if internal.get(n, False))
    host = egress + tuple(f"{n} ({ALLOW_HOST})" for n in closed if n in host_open)
    binds = [m for m in container.mounts if m.kind == "bind"]
    writable = tuple(sorted({m.source or "" for m in binds if not m.read_only}))
    read_only = tuple(sorted({m.source or "" for m in binds if m.read_only}))
    ports = tuple(
        f"{p.host_ip}:{p.host_port if p.host_port is not None else '*'}"
        f"->{p.container_port}/{p.protocol}"
        for p in container.ports
    )
    return ContainerSecurity(
        container=container.id,
        egress_networks=egress,
        internal_networks=closed,
        writable_host_paths=writable,
        read_only_host_paths=read_only,
        secrets=tuple(sorted(e.key for e in container.secrets)),
        cap_add=tuple(sorted(container.cap_add)),
        drops_all_caps="ALL" in {c.upper() for c in container.cap_drop},
        no_new_privileges=container.no_new_privileges,
        privileged=container.privileged,
        docker_socket=any(_is_docker_socket(m.source) for m in binds),
        runs_as_root=_host_user_is_root(container.user),
        published_ports=ports,
        egress_allow=container.egress.allow if container.egress else None,
        egress_via=container.egress.via if container.egress else None,
        credential_paths=tuple(
            sorted(
                f"{m.source}{' (read-only)' if m.read_only else ''}"
                for m in binds
                if credential_reason(Path(m.source or "/"), homes) is not None
            )
        ),
        program_env=tuple(n for n in container.pass_env if is_program_env(n)),
        root_hooks=tuple(
            sorted(h.name for h in hooks if h.container == container.id and is_root_user(h.user))
        ),
        host_networks=host,
    )


def summarize(session: Session, homes: Sequence[Path] = ()) -> list[ContainerSecurity]:
    """One entry per container, in the session's (sorted) container order.

    External networks count as egress: aifo cannot know what they route to, so it assumes the
    worst.
    """
    internal = {n.name: (n.internal and not n.external) for n in session.networks}
    host_open = [n.name for n in session.networks if n.host_reach]
    ordered = sorted(session.containers, key=lambda c: c.id)
    own = {c.id: container_security(c, internal, homes, session.hooks, host_open) for c in ordered}
    return [with_routes(own[c.id], c, own) for c in ordered]


def with_routes(
    item: ContainerSecurity, container: Container, own: Mapping[str, ContainerSecurity]
) -> ContainerSecurity:
    """A container's reach joined with that of every toolchain it routes commands to (those
    it lists, and those its routes name: aifo.route.table): whatever a routed `sh` there can
    reach, the agent can."""
    targets = sorted({*container.toolchains, *(tc for _tool, tc in container.routes)})
    targets = [t for t in targets if t != container.id]
    if not targets:
        return item
    egress: list[str] = []
    allow: list[str] = []
    host: list[str] = []
    for target in targets:
        tc = own.get(target)
        if tc is None:  # not in the session: nothing runs there
            continue
        egress += [f"{n} via {target}" for n in tc.egress_networks]
        if tc.egress_allow is not None:
            allow.append(f"{tc.own_allow()} ({target})")
        host += [f"{n} via {target}" for n in tc.host_networks]
    return replace(
        item,
        routes_to=tuple(targets),
        routed_egress=tuple(egress),
        routed_allow=tuple(allow),
        routed_host=tuple(host),
    )
