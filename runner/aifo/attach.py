"""Attaching to a running session: find a container, check it runs, build an exec's env and argv.

Shared by `aifo run`, `exec`, `shell` and `logs`, which stay thin. Pure except for one batched
`inspect_containers` call; the engine and the secret reader are passed in. The commands' wiring
(spec → session → engine → target → exec) is aifo.commands.attaching.

Secrets reach a process as exec-time environment only: the engine hands them to the docker CLI
through its own environment, never on a command line, and they are never stored in the
container's configuration.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from aifo.errors import NotApplied, UsageError
from aifo.model import LABEL_SESSION, Container, Session
from aifo.observed import ObservedContainer

if TYPE_CHECKING:  # aifo.secrets is loaded only for a container that has secrets
    from aifo.secrets import SecretReader

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
    if not target.stale:
        return None
    return (
        f"warning: {target.container.id} was applied from a different spec; "
        f"run `aifo apply {spec_file}` to bring it up to date"
    )


def parse_env(pairs: Iterable[str]) -> dict[str, str]:
    """`--env K=V` values; `--env K` takes K from our own environment (like docker)."""
    import os

    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not key or any(c.isspace() for c in key):
            raise UsageError(f"--env {pair!r}: expected KEY=VALUE or KEY")
        if not sep:
            if key not in os.environ:
                raise UsageError(f"--env {key}: not set in this environment")
            value = os.environ[key]
        out[key] = value
    return out


def exec_env(
    container: Container, read_secret: SecretReader, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Secrets first, then explicit `--env` values (which win)."""
    env: dict[str, str] = {}
    if container.secrets:
        from aifo.secrets import secret_env

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


@dataclass(frozen=True)
class ExecArgs:
    user: str | None
    workdir: str | None
    env: tuple[str, ...]
    cmd: tuple[str, ...]


_EXEC_OPTIONS = {"--user": "user", "-u": "user", "--workdir": "workdir", "-w": "workdir"}
_EXEC_OPTIONS |= {"--env": "env", "-e": "env"}


def split_exec_args(rest: Sequence[str]) -> ExecArgs:
    """Options between NAME and CMD, like `docker exec`: parsing stops at `--` or at CMD.

    Click can't stop at the first positional after NAME on its own; without this, an option of
    CMD (`ls -u`) would be taken for one of ours.
    """
    found: dict[str, str | None] = {"user": None, "workdir": None}
    env: list[str] = []
    i = 0
    while i < len(rest) and rest[i].startswith("-"):
        arg = rest[i]
        if arg == "--":
            i += 1
            break
        flag, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if flag not in _EXEC_OPTIONS:
            raise UsageError(
                f"unknown option {flag!r} before the command",
                hint="put `--` before a command that starts with a dash",
            )
        if eq:
            value = inline
        elif i + 1 < len(rest):
            i += 1
            value = rest[i]
        else:
            raise UsageError(f"option {flag} needs a value")
        if _EXEC_OPTIONS[flag] == "env":
            env.append(value)
        else:
            found[_EXEC_OPTIONS[flag]] = value
        i += 1
    cmd = tuple(rest[i:])
    if not cmd:
        raise UsageError("missing the command to run", hint="aifo exec FILE NAME -- CMD...")
    return ExecArgs(found["user"], found["workdir"], tuple(env), cmd)


def strip_separator(args: Sequence[str]) -> tuple[str, ...]:
    """ARGS after `--` (click keeps a `--` that follows the first positional)."""
    return tuple(args[1:]) if args and args[0] == "--" else tuple(args)


@dataclass(frozen=True)
class Terminal:
    """How to wire an exec to our stdio: a TTY only when we are attached to one."""

    tty: bool
    interactive: bool


def terminal(stdin: object = None, stdout: object = None) -> Terminal:
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout

    def isatty(stream: object) -> bool:
        check = getattr(stream, "isatty", None)
        try:
            return bool(check()) if callable(check) else False
        except (OSError, ValueError):
            return False

    in_tty, out_tty = isatty(stdin), isatty(stdout)
    closed = stdin is None or getattr(stdin, "closed", False)
    return Terminal(tty=in_tty and out_tty, interactive=not closed)
