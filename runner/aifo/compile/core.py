"""What every part of compile shares: the input protocol, the defaults, the issues found."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from aifo.compile.hostcontext import CompileContext
from aifo.issue import Issue
from aifo.location import Location
from aifo.model import Container, Hook, Image, Network, Role, Volume, docker_name

ROLES: tuple[tuple[str, Role], ...] = (
    ("agents", "agent"),
    ("toolchains", "toolchain"),
    ("services", "service"),
)
DEFAULT_PIDS_LIMIT = 4096
DEFAULT_READINESS_TIMEOUT_S = 60.0

Path_ = tuple[str | int, ...]  # a JSON path into the resolved spec
R = TypeVar("R", Network, Volume, Image, Container, Hook)


class Resolved(Protocol):
    """What compile needs from aifo.sessionspec.ResolvedSpec."""

    @property
    def data(self) -> dict[str, Any]: ...

    @property
    def file(self) -> Path: ...

    @property
    def base_dir(self) -> Path: ...

    def location(self, *path: str | int) -> Location | None: ...


class CompilerCore:
    """The compiler's state; `Compiler` (aifo.compile.session) sets it up."""

    resolved: Resolved
    ctx: CompileContext
    data: dict[str, Any]
    session_name: str
    issues: list[Issue]
    images: dict[str, Image]
    origins: dict[tuple[str, str], Path_]
    roles: dict[str, Role]
    seeds: set[str]

    def fail(self, path: Path_, message: str) -> None:
        where = ".".join(str(p) for p in path)
        self.issues.append(Issue(self.resolved.location(*path), where, message))

    def docker(self, name: str) -> str:
        return docker_name(self.session_name, name)


def sorted_items(data: Mapping[str, Any], key: str) -> list[tuple[str, Any]]:
    return sorted((data.get(key) or {}).items())


def hashed(resource: R, digest: str) -> R:
    """Set the config hash of a resource compile has just created and nobody else has seen.

    `dataclasses.replace` would re-run `__init__` per resource: a quarter of compile time.
    """
    object.__setattr__(resource, "config_hash", digest)
    return resource
