"""Where the route lives: the host folder per agent and its mount point in the agent. Pure."""

from __future__ import annotations

import posixpath

ROUTE_TARGET = "/run/aifo"  # the route folder inside the agent
SHIM_DIR = f"{ROUTE_TARGET}/bin"  # first on PATH in every process aifo starts in the agent
REQUEST_DIR = f"{ROUTE_TARGET}/req"
ROUTE_MARKER = "AIFO_ROUTE_ID"  # marks a routed command (and its children) in a sidecar
DEFAULT_PASS_ENV = ("COLUMNS", "LANG", "LC_ALL", "LC_CTYPE", "LINES", "NO_COLOR", "TERM", "TZ")


def agent_route_dir(route_root: str, agent: str) -> str:
    """The host folder mounted at ROUTE_TARGET in `agent` (0700, only that agent sees it)."""
    return posixpath.join(route_root, agent)


def private_dir(route_root: str, agent: str) -> str:
    """Host-only companion of the route folder (router locks, concurrency slots)."""
    return posixpath.join(route_root, f".{agent}.host")
