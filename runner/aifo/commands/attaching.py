"""Wiring of `aifo run`, `exec`, `shell` and `logs`: spec → session → engine → target → exec.

The lookups and the exec's env and argv are pure, in aifo.attach.lookup; this module composes them
with the pipeline and the engine.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aifo.attach.execargs import terminal
from aifo.attach.lookup import Target, locate, stale_warning
from aifo.engine.api import Engine
from aifo.model import Session

if TYPE_CHECKING:
    from pathlib import Path

    from aifo.state.secrets import SecretReader


@dataclass(frozen=True)
class Attached:
    """A located container of a compiled session, and its engine."""

    engine: Engine
    session: Session
    target: Target


def open_session(
    spec_file: str, profiles: Sequence[str], *, session: str | None = None
) -> tuple[Engine, Session]:
    """The compiled session and the engine (what the next `aifo exec` needs is kept:
    aifo.attach.cache)."""
    from aifo.pipeline import connect

    compiled = load_session(spec_file, tuple(profiles), session)
    engine = connect()
    return engine, compiled


def load_session(
    spec_file: str | Path, profiles: Sequence[str] = (), session: str | None = None
) -> Session:
    """Compile the spec (creating no session state) and keep what the next `aifo exec` needs
    (aifo.attach.cache)."""
    from aifo.attach.cache import store
    from aifo.pipeline import load

    compiled = load(spec_file, profiles, session, writes_state=False)
    store(spec_file, profiles, session, compiled.session, compiled.sources)
    return compiled.session


def open_target(
    spec_file: str,
    profiles: Sequence[str],
    name: str,
    *,
    running: bool = True,
    session: str | None = None,
) -> Attached:
    engine, compiled = open_session(spec_file, profiles, session=session)
    target = locate(engine, compiled, name, spec_file, running=running)
    if running:
        from aifo.attach.cache import remember

        remember(compiled, target)  # the next `aifo exec` skips the inspect (fastexec)
    warning = stale_warning(target, spec_file)
    if warning:
        print(warning, file=sys.stderr)  # no click: `aifo exec`'s fast path stays light
    return Attached(engine, compiled, target)


def default_secret_reader() -> SecretReader:
    """Compile's reader (aifo.state.secrets.read_secret), so apply and exec agree."""
    from aifo.state.secrets import read_secret

    return read_secret


def exec_in(
    attached: Attached,
    argv: Sequence[str],
    *,
    user: str | None = None,
    workdir: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    read_secret: SecretReader | None = None,
) -> int:
    """Exec `argv` in the target with its secrets; returns the process's exit code.

    Signals we receive reach the process (aifo.attach.signals); an agent that routes tools gets its
    router for as long as the process runs, and its shims first on PATH (aifo.route).
    """
    from aifo.attach import signals
    from aifo.route.serve import routed

    term = terminal()
    user, env, secrets = _prepared(attached, user, extra_env, read_secret)
    container = attached.target.container
    with routed(attached.engine, attached.session, container, secrets) as wrap:
        return signals.run(
            attached.engine,
            attached.target.ref,
            wrap(argv),
            user=user,
            workdir=workdir,
            env=env,
            tty=term.tty,
            interactive=term.interactive,
            marker=signals.new_marker(),
        )


def capture_in(
    attached: Attached, argv: Sequence[str], *, read_secret: SecretReader | None = None
) -> tuple[int, str]:
    """As `exec_in`, without a terminal and with the output captured (`fork exec --all`): the
    same user, the same secrets and the same routes (a router for as long as it runs)."""
    from aifo.route.serve import routed

    user, env, secrets = _prepared(attached, None, None, read_secret)
    container = attached.target.container
    with routed(attached.engine, attached.session, container, secrets) as wrap:
        return attached.engine.exec_capture(attached.target.ref, wrap(argv), user=user, env=env)


def _prepared(
    attached: Attached,
    user: str | None,
    extra_env: Mapping[str, str] | None,
    read_secret: SecretReader | None,
) -> tuple[str | None, dict[str, str], list[str]]:
    """The exec's user, its environment (the container's secrets, then `extra_env`) and the
    secret values (what the router masks)."""
    container = attached.target.container
    if user is None and container.process_user != container.user:
        user = container.user  # a routed toolchain's own process runs as another uid
    secrets: dict[str, str] = {}
    if container.secrets:  # aifo.state.secrets is loaded only when needed (`aifo exec`'s fast path)
        from aifo.state.secrets import secret_env

        reader = read_secret or default_secret_reader()
        secrets = secret_env(container, reader)
    env = {**secrets, **(extra_env or {})}  # aifo.attach.lookup.exec_env: explicit `--env` wins
    return user, env, list(secrets.values())
