"""Where aifo keeps per-session state (journal, lock, secret key) and debug logs."""

from __future__ import annotations

import os
from pathlib import Path


def state_root() -> Path:
    """`$AIFO_STATE_DIR`, else `$XDG_STATE_HOME/aifo`, else `~/.local/state/aifo`."""
    explicit = os.environ.get("AIFO_STATE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_STATE_HOME")
    if xdg:
        return Path(xdg) / "aifo"
    return Path.home() / ".local" / "state" / "aifo"


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
