"""Wiring of `aifo fork ...`: the main session, its forks' folder and lock, the engine steps
the fork transaction runs (apply a derived session, destroy one), recovery, and each fork's
compiled session for exec/run/shell."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from aifo.fork import layout
from aifo.fork.records import ForkRecord
from aifo.fork.transaction import Steps

if TYPE_CHECKING:
    from aifo.engine.api import Engine
    from aifo.model import Session
    from aifo.pipeline import Compiled
    from aifo.sessionspec import ResolvedSpec


def notify(message: str) -> None:
    click.echo(message, err=True)


@dataclass(frozen=True)
class Main:
    """The main session fork commands work on, and where its forks are kept."""

    session: str
    folder: Path  # <state>/forks/<session>


def main_session() -> Main:
    """`--session NAME` (given before `fork`), else the spec's `session:` (-f, or the nearest)."""
    from aifo import pipeline
    from aifo.commands.options import session_override, spec_file
    from aifo.state.folder import state_root

    name = session_override() or pipeline.session_of(spec_file(), None)
    return Main(name, layout.state_folder(state_root(), name))


def compile_fork(
    derived: ResolvedSpec, engine: Engine | None, *, writes_state: bool = True
) -> Compiled:
    """A fork's derived spec compiled: the one place fork mode calls compile."""
    from aifo import pipeline

    return pipeline.compile_resolved(
        derived, apparmor=pipeline.apparmor(engine), writes_state=writes_state, engine=engine
    )


def engine_steps(engine: Engine, resolved: ResolvedSpec | None, repo: Path | None,
                 agents: tuple[str, ...] = (), *, wait: bool = False) -> Steps:  # fmt: skip
    """The engine side of the fork transaction, through the one apply and destroy sequences."""
    from aifo import pipeline

    def apply(number: int, clone: Path, cancel: threading.Event) -> str | None:
        from aifo.fork.derive import derive

        assert resolved is not None and repo is not None
        derived = derive(resolved, repo=repo, clone=clone, number=number, agents=agents)
        compiled = compile_fork(derived, engine)
        with pipeline.prepare(engine, compiled, notify=notify) as prepared:
            pipeline.execute(engine, compiled, prepared, cancel=cancel, wait=wait)
        # a node elsewhere: the workspace is a volume seeded from the clone (compile/workspace)
        return next((v.docker_name for v in compiled.session.volumes if v.seed), None)

    def destroy(name: str) -> None:
        with pipeline.prepare_destroy(engine, name, notify=notify) as found:
            pipeline.execute_destroy(engine, name, found, volumes=True)

    def exists(name: str) -> bool:
        found = engine.labelled(name)
        return bool(found.containers or found.networks or found.volumes)

    return Steps(apply=apply, destroy=destroy, exists=exists, notify=notify)


def refresh(record: ForkRecord, engine: Engine | None = None) -> None:
    """Before reading a fork whose workspace is a volume on a node: its host copy replaced by
    the volume's content (fork/bringback); nothing for a fork whose clone is bound."""
    if not record.volume:
        return
    from aifo import pipeline
    from aifo.fork.bringback import refresh as bring_back

    bring_back(record, engine or pipeline.connect())


@contextmanager
def locked(main: Main, engine: Engine, *, lock_timeout: float = 30.0) -> Iterator[None]:
    """The forks' lock held, an unfinished `fork new` finished first."""
    from aifo.apply.lock import SessionLock

    main.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with SessionLock(main.folder, main.session, lock_timeout):
        recover(main, engine)
        yield


def recover(main: Main, engine: Engine) -> None:
    """Finish (roll back, or forward) a `fork new` that died; the caller holds the lock."""
    from aifo.fork.transaction import recover as finish

    message = finish(main.folder, engine_steps(engine, None, None))
    if message:
        notify(message)


def recover_quietly(main: Main, engine: Engine) -> None:
    """For commands that only read: recover when nobody holds the forks' lock."""
    from aifo.apply.journal import journal_path
    from aifo.apply.lock import held_by

    if journal_path(main.folder).exists() and held_by(main.folder) is None:
        with locked(main, engine, lock_timeout=0):
            pass


def chosen(main: Main, numbers: Sequence[int], *, every: bool = False) -> list[ForkRecord]:
    """The records of forks `numbers` (all with `every`); an unknown number is a usage error."""
    from aifo.errors import UsageError
    from aifo.fork import records

    found = {r.fork: r for r in records.read_all(main.folder)}
    if every:
        return [found[n] for n in sorted(found)]
    missing = [n for n in numbers if n not in found]
    if missing:
        known = ", ".join(str(n) for n in sorted(found)) or "none"
        raise UsageError(
            f"session {main.session!r} has no fork {missing[0]}", hint=f"its forks: {known}"
        )
    return [found[n] for n in numbers]


def fork_session(record: ForkRecord) -> Session:
    """The fork's compiled session, derived from its spec as it is now (no state written)."""
    from aifo import pipeline
    from aifo.fork.derive import derive

    resolved = pipeline.resolve(record.spec, record.profiles, record.session)
    derived = derive(
        resolved, repo=Path(record.repo), clone=Path(record.path), number=record.fork,
        agents=record.agents,
    )  # fmt: skip
    return compile_fork(derived, None, writes_state=False).session
