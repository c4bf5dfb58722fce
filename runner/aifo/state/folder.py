"""Where aifo keeps its own state: the state folder, one folder per session, caches, debug logs.

Every folder handed out here is checked first (aifo.state.private): a real folder, owned by the
user, not writable by group or others; otherwise StateError names the fix. Which files a folder
holds is each owner's business (the lock, the journal, the audit log... each module names its
own file); this module knows folders only.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing's: `aifo exec`'s fast path does not load typing (mypy knows)
if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path


def state_root() -> Path:
    """`$AIFO_STATE_DIR`, else `$XDG_STATE_HOME/aifo`, else `~/.local/state/aifo` (unchecked:
    `aifo doctor` reports on it; everything that uses it goes through `checked`)."""
    from pathlib import Path

    return Path(state_folder())


def state_folder() -> str:
    """state_root as a string (`aifo exec`'s fast path does without pathlib)."""
    explicit = os.environ.get("AIFO_STATE_DIR")
    if explicit:
        return explicit
    xdg = os.environ.get("XDG_STATE_HOME")
    if xdg:
        return os.path.join(xdg, "aifo")
    return os.path.join(os.path.expanduser("~"), ".local", "state", "aifo")


def checked_path(*parts: str, create: bool = True) -> str:
    """`<state folder>/parts...`, every level checked (and made, 0700, when `create`). Without
    `create`, a level that does not exist ends the checks: the path is returned all the same.
    StateError, naming the fix, for a level that is not safe to use."""
    from aifo.state.private import Unsafe, ensure_folder

    root = state_folder()
    try:
        ensure_folder(root, *parts, create=create)
    except FileNotFoundError:
        pass
    except Unsafe as exc:
        from aifo.errors import StateError

        raise StateError(exc.message, hint=exc.hint) from None
    except OSError as exc:
        from aifo.errors import StateError

        raise StateError(f"cannot use the state folder {root}: {exc}") from exc
    return os.path.join(root, *parts)


def checked(*parts: str, create: bool = True) -> Path:
    """checked_path as a Path."""
    from pathlib import Path

    return Path(checked_path(*parts, create=create))


def session_dir(session: str, *, create: bool = True) -> Path:
    return checked("sessions", session, create=create)


def cache_dir(name: str, *, create: bool = True) -> Path:
    """`<state folder>/cache/<name>`: one folder per cache, owned by the cache's module."""
    return checked("cache", name, create=create)


def route_root(session: str) -> Path:
    """The session's route folders (aifo.route): one per agent, made by apply and the router."""
    return session_dir(session, create=False) / "route"


def debug_dir() -> Path:
    return checked("debug")


def forget_session(session: str, *, keep: Iterable[str] = ()) -> None:
    """After `aifo destroy`: the session's folder is emptied but for the files named in `keep`
    (its owners say which outlive the session: the audit log); the folder goes when nothing is
    left. Links are removed, never followed."""
    import shutil

    folder = session_dir(session, create=False)
    if not folder.is_dir():
        return
    kept = frozenset(keep)
    for entry in folder.iterdir():
        if entry.name in kept:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass  # something kept is still there
