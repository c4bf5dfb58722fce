"""The writable places a read-only root filesystem keeps, so real tools still work. Pure.

Every container's root is read-only by default (`security.read_only: false` needs
`allow: [writable-root]`). Compile then adds, unless a writable mount already covers them:

- an executable tmpfs at `/tmp` (engine adapters mount every tmpfs `exec`, mode 1777);
- a writable HOME: `HOME=/home/aifo` when the spec sets none (and the container does not run as
  the image's own user, whose HOME is the image's business), and a tmpfs there.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import PurePosixPath

from aifo.model import EnvVar, Mount

DEFAULT_HOME = "/home/aifo"
TMP = "/tmp"


def with_home(env: tuple[EnvVar, ...]) -> tuple[EnvVar, ...]:
    """`env` with HOME set to DEFAULT_HOME when it sets none (sorted by key, as compiled)."""
    if any(var.key == "HOME" for var in env):
        return env
    return tuple(sorted((*env, EnvVar(key="HOME", value=DEFAULT_HOME)), key=lambda v: v.key))


def home_of(env: tuple[EnvVar, ...]) -> str | None:
    """The HOME folder `env` sets (an absolute path other than `/`), else None."""
    for var in env:
        if var.key == "HOME" and not var.secret and var.value and var.value.startswith("/"):
            return var.value if var.value.rstrip("/") else None
    return None


def covered(place: str, mounts: MutableMapping[str, Mount]) -> bool:
    """Whether `place` is a writable mount's target or lies under one."""
    target = PurePosixPath(place)
    return any(
        not m.read_only and (target == PurePosixPath(t) or target.is_relative_to(t))
        for t, m in mounts.items()
    )


def add_writable(mounts: MutableMapping[str, Mount], home: str | None) -> None:
    """Add a tmpfs at /tmp and at `home` where no writable mount covers them."""
    for place in (TMP, home):
        if place and not covered(place, mounts):
            mounts[place] = Mount("tmpfs", place)
