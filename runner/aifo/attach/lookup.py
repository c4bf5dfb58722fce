"""Attaching to a running session: find a container, check it runs, build an exec's env and argv.

Shared by `aifo run`, `exec`, `shell` and `logs`, which stay thin. Pure except for one batched
`inspect_containers` call; the engine and the secret reader are passed in. The commands' wiring
(spec → session → engine → target → exec) is aifo.commands.attaching.

Secrets reach a process as exec-time environment only: the engine hands them to the docker CLI
through its own environment, never on a command line, and they are never stored in the
container's configuration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from aifo.attach.execargs import stale_text
from aifo.errors import NotApplied, UsageError
from aifo.model import LABEL_SESSION, Container, Session
from aifo.model.observed import ObservedContainer

if TYPE_CHECKING:  # aifo.state.secrets is loaded only for a container that has secrets
    from aifo.state.secrets import SecretReader

# Try bash (a real login experience), fall back to POSIX sh (busybox, slim images).
SHELL_ARGV = ("sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash; fi; exec sh")


class Inspector(Protocol):
    """The part of `aifo.engine.api.Engine` lookups need (fakes implement just this)."""

    def inspect_containers(self, refs: Sequence[str]) -> list[ObservedContainer]: ...


@dataclass(frozen=True)
class Target:
    """A declared container and what Docker has under its name."""

    container: Container
    observed: ObservedContainer
    stale: bool  # the spec changed since this container was applied

    @property
    def ref(self) -> str:
        return self.observed.id or self.observed.name


def apply_hint(spec_file: str) -> str:
    return f"run `aifo apply {spec_file}` first"


def find_container(session: Session, name: str) -> Container:
    """A container by spec name (`codex`) or graph id (`agent/codex`); else a usage error."""
    for container in session.containers:
        if name in (container.name, container.id):
            return container
    known = ", ".join(sorted(c.name for c in session.containers)) or "none"
    raise UsageError(
        f"session {session.name!r} declares no container named {name!r}",
        hint=f"containers: {known}",
    )


def _inspect(engine: Inspector, refs: Sequence[str]) -> dict[str, ObservedContainer]:
    """By Docker name; missing refs are simply absent (the engine contract)."""
    if not refs:
        return {}
    return {o.name.lstrip("/"): o for o in engine.inspect_containers(refs)}


def _owned(session: Session, observed: ObservedContainer) -> bool:
    return observed.labels.get(LABEL_SESSION) == session.name


def locate(
    engine: Inspector,
    session: Session,
    name: str,
    spec_file: str,
    *,
    running: bool = True,
) -> Target:
    """The container `name` as Docker has it; NotApplied when missing, foreign or stopped."""
    container = find_container(session, name)
    observed = _inspect(engine, [container.docker_name]).get(container.docker_name)
    if observed is None:
        raise NotApplied(
            f"{container.id} of session {session.name!r} does not exist "
            f"(no container {container.docker_name})",
            hint=apply_hint(spec_file),
        )
    if not _owned(session, observed):
        raise NotApplied(
            f"container {container.docker_name} exists but does not belong to session "
            f"{session.name!r} (label {LABEL_SESSION} differs); aifo won't touch it",
            hint=f"remove or rename it, then {apply_hint(spec_file)}",
        )
    if running and not observed.running:
        raise NotApplied(
            f"{container.id} of session {session.name!r} is {observed.state}, not running",
            hint=apply_hint(spec_file),
        )
    stale = bool(container.config_hash) and observed.config_hash != container.config_hash
    return Target(container, observed, stale)


def locate_all(engine: Inspector, session: Session, spec_file: str) -> list[Target]:
    """Every declared container that exists (running or not); NotApplied when none does."""
    names = [c.docker_name for c in sorted(session.containers, key=lambda c: c.id)]
    observed = _inspect(engine, names)
    targets = [
        Target(c, observed[c.docker_name], c.config_hash != observed[c.docker_name].config_hash)
        for c in sorted(session.containers, key=lambda c: c.id)
        if c.docker_name in observed and _owned(session, observed[c.docker_name])
    ]
    if not targets:
        raise NotApplied(
            f"session {session.name!r} has no containers in Docker",
            hint=apply_hint(spec_file),
        )
    return targets


def stale_warning(target: Target, spec_file: str) -> str | None:
    return stale_text(target.container.id, spec_file) if target.stale else None


def exec_env(
    container: Container, read_secret: SecretReader, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Secrets first, then explicit `--env` values (which win)."""
    env: dict[str, str] = {}
    if container.secrets:
        from aifo.state.secrets import secret_env

        env = secret_env(container, read_secret)
    env.update(extra or {})
    return env


def run_argv(container: Container, args: Sequence[str], spec_file: str) -> tuple[str, ...]:
    """The agent's `run:` command plus the user's extra args."""
    if not container.run:
        raise UsageError(
            f"{container.id} declares no `run:` command",
            hint=f"run a command with `aifo exec {spec_file} {container.name} -- CMD...`",
        )
    return (*container.run, *args)
