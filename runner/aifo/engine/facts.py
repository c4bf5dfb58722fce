"""What the daemon offers (its security options), cached per endpoint so a no-op apply asks nothing.

`docker info` costs a CLI call (~30 ms here, as much as the whole `docker version` ping), and the
answer changes only when the daemon's host is reconfigured. So it is cached in the state
directory's cache folder for a day, keyed by the endpoint the docker CLI talks to
(`DOCKER_HOST`, else the docker context). An engine that can't be asked gives no answer and
nothing is cached: the command's own `connect()` reports that failure.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from aifo.errors import EngineError
from aifo.model.hashing import sha256_hex
from aifo.state.private import read_bytes, write_atomic

CACHE_TTL_S = 24 * 3600.0

Probe = Callable[[], tuple[str, ...]]


def apparmor_enabled(options: Iterable[str]) -> bool:
    """Whether `docker info`'s SecurityOptions (`name=apparmor`, `name=seccomp,profile=…`)
    include AppArmor."""
    for option in options:
        for field in option.split(","):
            key, _, value = field.partition("=")
            if key.strip() == "name" and value.strip() == "apparmor":
                return True
    return False


def endpoint(environ: Mapping[str, str]) -> str:
    """Which engine aifo reaches: Podman's socket; else (Docker) `DOCKER_HOST`, else the
    (current) docker context."""
    from aifo.engine.choose import engine_name

    if engine_name(environ) == "podman":
        from aifo.engine.podman import socket_path

        return "podman=" + socket_path(environ)
    if environ.get("DOCKER_HOST"):
        return "host=" + environ["DOCKER_HOST"]
    if environ.get("DOCKER_CONTEXT"):
        return "context=" + environ["DOCKER_CONTEXT"]
    config = Path(environ.get("DOCKER_CONFIG") or Path.home() / ".docker") / "config.json"
    try:
        current = json.loads(config.read_text()).get("currentContext")
    except (OSError, ValueError, AttributeError):
        current = None
    return "context=" + (str(current) if current else "default")


def _cache_file(cache_dir: Path, environ: Mapping[str, str]) -> Path:
    return cache_dir / f"engine-{sha256_hex(endpoint(environ))[:16]}.json"


def cached_security_options(
    cache_dir: Path, *, environ: Mapping[str, str] | None = None, now: float | None = None
) -> tuple[str, ...] | None:
    """The cached answer for this endpoint, or None (missing, unreadable or older than a day)."""
    env = os.environ if environ is None else environ
    try:
        data = json.loads(read_bytes(_cache_file(cache_dir, env), 1 << 16) or b"")
        checked, options = float(data["checked"]), data["security_options"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):  # Unsafe: an OSError
        return None
    age = (time.time() if now is None else now) - checked
    if not 0 <= age < CACHE_TTL_S or not isinstance(options, list):
        return None
    return tuple(str(o) for o in options)


def security_options(
    cache_dir: Path,
    *,
    probe: Probe,
    environ: Mapping[str, str] | None = None,
    now: float | None = None,
) -> tuple[str, ...] | None:
    """The daemon's security options: cached, else asked once through `probe` (the command's
    engine's `security_options`) and cached; None if unreachable."""
    env = os.environ if environ is None else environ
    found = cached_security_options(cache_dir, environ=env, now=now)
    if found is not None:
        return found
    try:
        found = probe()
    except EngineError:
        return None
    _write(_cache_file(cache_dir, env), found, time.time() if now is None else now)
    return found


def _write(path: Path, options: tuple[str, ...], now: float) -> None:
    """Best effort: a cache that can't be written only costs the next command one call."""
    try:
        write_atomic(path, json.dumps({"checked": now, "security_options": list(options)}).encode())
    except OSError:
        pass
