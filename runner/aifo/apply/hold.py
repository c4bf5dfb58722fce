"""Holding a session to change it: both session locks (`locked`), and what the last holder left
unfinished finished under them (`recover_pending`); read-only commands, which hold nothing, only
say that an apply is running or was left unfinished (`note_pending`).

The lock → recover stage that the apply and destroy sequences (aifo.pipeline) and `aifo
recover` open with. Imports are taken in the functions: read-only commands call `note_pending`
and must not load the engine lock or the recovery machinery.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from aifo.state.folder import session_dir

if TYPE_CHECKING:
    from aifo.apply.events import Emit, Notify
    from aifo.apply.recover import Recovery
    from aifo.engine.api import Engine


def recover_pending(
    engine: Engine, name: str, *, notify: Notify, emit: Emit | None = None
) -> Recovery | None:
    """Finish an unfinished apply of this session. The caller holds the session lock."""
    from aifo.apply.journal import journal_path

    path = journal_path(session_dir(name, create=False))
    if not path.exists() and not path.is_symlink():
        return None
    from aifo.apply.events import ignore
    from aifo.apply.journal import load as load_journal
    from aifo.apply.recover import announce, recover

    notify(announce(load_journal(path, name)))
    result = recover(engine, path, name, emit=emit or ignore)
    notify(result.message())
    return result


def note_pending(name: str, *, notify: Notify) -> None:
    """For read-only commands, which change nothing (not even to recover): say when an apply of
    this session is running or was left unfinished, and what finishes it. Like Terraform's
    plan, they show what is there; `aifo recover` or the next `aifo apply` rolls it back."""
    from aifo.apply.journal import journal_path
    from aifo.apply.lock import held_by

    directory = session_dir(name, create=False)
    path = journal_path(directory)
    if not path.exists() and not path.is_symlink():
        return
    holder = held_by(directory)
    if holder is not None:
        notify(f"note: an apply of session {name!r} is in progress (PID {holder})")
        return
    notify(
        f"note: session {name!r} has an unfinished apply ({path}); what is shown includes what "
        "it left half done. Run `aifo recover` to roll it back (the next `aifo apply` does too)"
    )


@contextmanager
def locked(
    engine: Engine, name: str, *, command: str, notify: Notify, lock_timeout: float = 30.0
) -> Iterator[Path]:
    """Both session locks for a command that changes the session (destroy, recover): the
    state folder's (flock, same folder) and the engine's (aifo.apply.enginelock: any folder,
    user or machine). Yields the session's state folder."""
    from aifo.apply.enginelock import EngineLock
    from aifo.apply.lock import SessionLock

    directory = session_dir(name)
    engine_lock = EngineLock(
        engine,
        name,
        command=command,
        timeout_s=lock_timeout,
        notify=notify,
    )
    with SessionLock(directory, name, lock_timeout), engine_lock:
        yield directory
