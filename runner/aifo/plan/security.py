"""What each container of a session may do, in the terms a reviewer asks about. Pure.

`aifo plan` ends with this summary (rendered by aifo.ui.security) so nobody applies a spec
without seeing which containers can reach the internet, write to the host, read secrets, or hold
extra privileges. Only names are reported, never values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aifo.model import Container, Hook, Session
from aifo.sessionspec.hostpaths import credential_reason, names_engine_socket
from aifo.sessionspec.privileges import is_program_env, is_root_user


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

    @property
    def reach(self) -> str:
        """The issue's wording: `egress: none`, `only HOSTS via NET` or `any`."""
        if self.egress_networks:
            return "any (" + ", ".join(self.egress_networks) + ")"
        if self.egress_allow is not None:
            hosts = ", ".join(self.egress_allow) or "no hosts"
            return f"only {hosts} via {self.egress_via}"
        return "none"

    @property
    def egress(self) -> bool:
        """Whether the container can reach outside networks (any attached non-internal one)."""
        return bool(self.egress_networks)

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
) -> ContainerSecurity:
    """Summarize one container; `internal` maps network spec names to their `internal` flag;
    `homes`: the home folders whose credential places (aifo.sessionspec.hostfacts) count;
    `hooks`: the session's (those of this container that run as root are named)."""
    egress = tuple(n for n in container.networks if not internal.get(n, False))
    closed = tuple(n for n in container.networks if internal.get(n, False))
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
    )


def summarize(session: Session, homes: Sequence[Path] = ()) -> list[ContainerSecurity]:
    """One entry per container, in the session's (sorted) container order.

    External networks count as egress: aifo cannot know what they route to, so it assumes the
    worst.
    """
    internal = {n.name: (n.internal and not n.external) for n in session.networks}
    ordered = sorted(session.containers, key=lambda c: c.id)
    return [container_security(c, internal, homes, session.hooks) for c in ordered]
