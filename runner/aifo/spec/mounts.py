"""The mount safety policy: which host paths a container may see, and the opt-ins it takes.

Pure over a `home` path; the only filesystem access (existence, symlinks) is `probe()`, passed in
so tests can fake it. Refused unless the mount opts in — `allow: docker-socket` for any
docker.sock, `allow: sensitive` for the rest — and then allowed with a warning:

- any `docker.sock`: full control of the host's Docker;
- `/` itself, and `/etc`, `/proc`, `/sys`, `/dev` and anything under them;
- `$HOME` itself (as a bind or as the workspace) and any folder that contains it;
- `~/.aws` (read-only or not), `~/.ssh` and `~/.gnupg` read-write.

Each rule is checked against the path as written (after `~` and relative paths are resolved)
and against its real path (symlinks resolved), so a symlink cannot smuggle `/etc` in.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Allow = Literal["sensitive", "docker-socket"]
Probe = Callable[[Path], tuple[Path, bool]]

_SYSTEM = tuple(Path(p) for p in ("/etc", "/proc", "/sys", "/dev"))


@dataclass(frozen=True)
class Finding:
    allow: Allow  # the opt-in that permits it
    reason: str


@dataclass(frozen=True)
class Verdict:
    """What the policy says about one host path."""

    path: Path  # absolute, symlinks resolved: what Docker will mount
    errors: tuple[tuple[str, str | None], ...]  # (message, hint)
    warnings: tuple[str, ...]


def probe(path: Path) -> tuple[Path, bool]:
    """The one filesystem touch: the real path (symlinks resolved) and whether it exists."""
    return Path(os.path.realpath(path)), path.exists()


def expand(source: str, base: Path, home: Path) -> Path:
    """`~`, `~/x` and relative paths (to `base`) made absolute and normalized; no I/O."""
    if source == "~":
        path = home
    elif source.startswith("~/"):
        path = home / source[2:]
    else:
        path = base / os.path.expanduser(source)
    return Path(os.path.normpath(path))


def _under(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def classify(path: Path, homes: Collection[Path], read_only: bool) -> list[Finding]:
    """Every rule `path` (absolute, normalized) falls under. Pure."""
    found: list[Finding] = []
    if path.name == "docker.sock":
        found.append(Finding("docker-socket", "a Docker socket gives full control of the host"))
    if path == Path("/"):
        found.append(Finding("sensitive", "it is the host's root folder"))
    for system in _SYSTEM:
        if _under(path, system):
            found.append(Finding("sensitive", f"{system} is a host system folder"))
    for home in homes:
        if path == home:
            found.append(Finding("sensitive", "it is your whole home folder"))
        elif home.is_relative_to(path) and path != Path("/"):
            found.append(Finding("sensitive", "it contains your home folder"))
        if _under(path, home / ".aws"):
            found.append(Finding("sensitive", "~/.aws holds cloud credentials"))
        for private in (".ssh", ".gnupg"):
            if not read_only and _under(path, home / private):
                found.append(Finding("sensitive", f"~/{private} holds private keys (read-write)"))
    unique: dict[tuple[str, str], Finding] = {(f.allow, f.reason): f for f in found}
    return list(unique.values())


def check(
    source: str,
    *,
    base: Path,
    home: Path,
    read_only: bool,
    allowed: Collection[str],
    create: bool,
    what: str = "mount source",
    look: Probe = probe,
) -> Verdict:
    """Apply the policy to one host path as written in the spec."""
    literal = expand(source, base, home)
    real, exists = look(literal)
    real_home, _ = look(home)
    errors: list[tuple[str, str | None]] = []
    warnings: list[str] = []
    if not exists and not create:
        errors.append(
            (f"{what} {literal} does not exist", "create it, or add `create: true` to the mount")
            if what == "mount source"
            else (f"{what} {literal} does not exist", None)
        )
    shown = str(literal) if real == literal else f"{literal} (-> {real})"
    seen: set[str] = set()
    for path in dict.fromkeys((literal, real)):
        for finding in classify(path, {home, real_home}, read_only):
            if finding.reason in seen:
                continue
            seen.add(finding.reason)
            if finding.allow in allowed:
                warnings.append(
                    f"{what} {shown} is sensitive: {finding.reason} (allowed by allow: "
                    f"{finding.allow})"
                )
            else:
                errors.append(
                    (
                        f"{what} {shown} is refused: {finding.reason}",
                        f"add `allow: {finding.allow}` to opt in, if you really mean it",
                    )
                )
    return Verdict(real, tuple(errors), tuple(warnings))
