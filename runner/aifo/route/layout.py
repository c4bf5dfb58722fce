"""Where the route lives: the host folder per agent and its mount point in the agent. Pure."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping

ROUTE_TARGET = "/run/aifo"  # the route folder inside the agent
SHIM_DIR = f"{ROUTE_TARGET}/bin"  # first on PATH in every process aifo starts in the agent
REQUEST_DIR = f"{ROUTE_TARGET}/req"
ROUTE_MARKER = "AIFO_ROUTE_ID"  # marks a routed command (and its children) in a sidecar
ROUTE_TMPFS_SIZE = "64m"  # the exec transport's route folder in the agent (its own memory)
TRANSPORT_ENV = "AIFO_ROUTE_TRANSPORT"  # `exec` or `bind`: overrides the engine's answer
DEFAULT_PASS_ENV = ("COLUMNS", "LANG", "LC_ALL", "LC_CTYPE", "LINES", "NO_COLOR", "TERM", "TZ")


def agent_route_dir(route_root: str, agent: str) -> str:
    """The host folder mounted at ROUTE_TARGET in `agent` (0700, only that agent sees it)."""
    return posixpath.join(route_root, agent)


def private_dir(route_root: str, agent: str) -> str:
    """Host-only companion of the route folder (router locks, concurrency slots)."""
    return posixpath.join(route_root, f".{agent}.host")


def route_transport(environ: Mapping[str, str], binds_reach: Callable[[], bool]) -> str:
    """`bind` (the route folder is a host folder bound into the agent: the faster) when host
    binds reach the session's containers (`Engine.binds_reach`), else `exec` (a tmpfs in the
    agent, reached through the engine's exec). AIFO_ROUTE_TRANSPORT=exec|bind decides instead
    (tests, and a user who wants the other). A value aifo does not know is a UsageError (exit 2)."""
    given = environ.get(TRANSPORT_ENV, "").strip().lower()
    if given in ("exec", "bind"):
        return given
    if given:
        from aifo.errors import UsageError

        raise UsageError(f"{TRANSPORT_ENV}={given!r}: use `exec` or `bind`")
    return "bind" if binds_reach() else "exec"
