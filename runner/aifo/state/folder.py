"""Where aifo keeps per-session state (journal, lock, secret key) and debug logs."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing's: `aifo exec`'s fast path does not load typing (mypy knows)
if TYPE_CHECKING:
    from pathlib import Path


def is_private(st: os.stat_result) -> bool:
    """Ours, and writable by nobody else: the only files aifo reads back from its caches (they
    hold pickles and compiled code)."""
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def state_root() -> Path:
    """`$AIFO_STATE_DIR`, else `$XDG_STATE_HOME/aifo`, else `~/.local/state/aifo`."""
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


def session_dir(session: str, *, create: bool = True) -> Path:
    path = state_root() / "sessions" / session
    if create:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def route_root(session: str) -> Path:
    """The session's route folders (aifo.route): one per agent, made by apply and the router."""
    return session_dir(session, create=False) / "route"


def debug_dir() -> Path:
    path = state_root() / "debug"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


SPEC_RECORD = "spec"
KEPT_AFTER_DESTROY = frozenset(
    {"audit.jsonl"}
)  # aifo.state.audit.AUDIT_FILE: the record outlives it


def forget_session(session: str) -> None:
    """After `aifo destroy`: the session's transient state (lock, journal, applied record, secret
    key, spec record, caches) goes; its audit log stays. The folder goes when nothing is left."""
    import shutil

    folder = session_dir(session, create=False)
    attach = state_root() / "cache" / "attach"  # aifo.attach.cache: sessions, located targets
    for cached in (*attach.glob(f"*.{session}.pickle"), *attach.glob(f"*.{session}.json")):
        cached.unlink(missing_ok=True)
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name in KEPT_AFTER_DESTROY:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass  # the audit log is still there


def record_spec_path(session: str, spec_file: str | Path) -> None:
    """Remember which spec a session was last applied from (`aifo ls` shows it)."""
    folder = session_dir(session)
    (folder / SPEC_RECORD).write_text(os.path.abspath(spec_file) + "\n", encoding="utf-8")


def read_spec_path(session: str) -> str | None:
    try:
        text = (session_dir(session, create=False) / SPEC_RECORD).read_text(encoding="utf-8")
    except OSError:
        return None
    return text.strip() or None
