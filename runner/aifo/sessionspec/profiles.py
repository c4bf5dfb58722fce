"""Profiles: finding them, loading them, following `extends` (recursively) and merging.

A profile is a spec fragment: the same shape, every top-level key optional. Named profiles
(`agent/codex`) are looked up in `.aifo/profiles/<name>.yaml` beside the main spec first, then
among the built-in ones (`profiles/<name>.yaml` of the installation). Entries that look like paths
(`./base.yaml`, `../x.yml`, `/abs.yaml`, `~/p.yaml`) are relative to the file that declares them.
`--profile NAME` is applied as if appended to the main spec's `extends`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aifo.host import files as hostfiles
from aifo.issue import Issue
from aifo.location import Location
from aifo.sessionspec import hostpaths
from aifo.sessionspec.hostfacts import HostFacts
from aifo.sessionspec.hostlocate import expand
from aifo.sessionspec.interpolate import interpolate
from aifo.sessionspec.load import read_file
from aifo.sessionspec.merge import merge
from aifo.sessionspec.nodes import Node, format_path
from aifo.suggest import did_you_mean

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*\Z")


def builtin_dir() -> Path | None:
    from aifo.sessionspec.shipped import data_dir

    try:
        return data_dir("profiles")
    except FileNotFoundError:
        return None


def is_path(entry: str) -> bool:
    return entry.startswith(("./", "../", "/", "~")) or entry.endswith((".yaml", ".yml"))


@dataclass
class Loader:
    """State of one resolution: files read, issues found, and the per-file cache."""

    spec_dir: Path
    environ: Mapping[str, str]
    home: Path
    facts: HostFacts | None = None  # the host-path policy's facts (None: not vetted)
    cwd: Path = field(default_factory=Path.cwd)
    issues: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)  # display name -> absolute path
    _cache: dict[Path, Node | None] = field(default_factory=dict)

    def display(self, path: Path) -> str:
        builtin = builtin_dir()
        if builtin is not None and path.is_relative_to(builtin):
            return f"profiles/{path.relative_to(builtin).as_posix()}"
        if path.is_relative_to(self.cwd):
            return path.relative_to(self.cwd).as_posix()
        return str(path)

    def is_builtin(self, display: str) -> bool:
        """Whether the file shown as `display` is one of aifo's own profiles (not the user's)."""
        builtin, path = builtin_dir(), self.files.get(display)
        return builtin is not None and path is not None and path.is_relative_to(builtin)

    def read(self, path: Path) -> Node | None:
        """Load, check and interpolate one file (once, however often it is extended)."""
        if path in self._cache:
            return self._cache[path]
        display = self.display(path)
        self.files[display] = path
        self.sources.append(path)
        node, issues = read_file(path, display)
        self.issues.extend(issues)
        if node is None and not issues:
            node = Node({}, (display, 1, 1))
        if node is not None and not isinstance(node.value, dict):
            self.issues.append(Issue(node.loc, "", "expected a mapping of keys (version, ...)"))
            node = None
        if node is not None:
            self.issues.extend(interpolate(node, self.environ, self.warnings))
        self._cache[path] = node
        return node

    def roots(self) -> list[Path]:
        found = [self.spec_dir / ".aifo" / "profiles"]
        builtin = builtin_dir()
        if builtin is not None:
            found.append(builtin)
        return found

    def available(self) -> list[str]:
        names: set[str] = set()
        for root in self.roots():
            if root.is_dir():
                for path in root.rglob("*.yaml"):
                    names.add(path.relative_to(root).with_suffix("").as_posix())
        return sorted(names)

    def find(self, entry: str, declaring: Path) -> Path | None:
        if is_path(entry):
            full = expand(entry, declaring.parent, self.home)
            return full if full.is_file() else None
        if not _NAME.match(entry) or ".." in entry.split("/"):
            return None
        for root in self.roots():
            candidate = root / f"{entry}.yaml"
            if candidate.is_file():
                return Path(os.path.abspath(candidate))
        return None

    def tree(
        self, path: Path, extra: Sequence[str] = (), chain: tuple[Path, ...] = ()
    ) -> Node | None:
        """The file at `path` merged over everything it extends (and over `extra` profiles)."""
        node = self.read(path)
        if node is None:
            return None
        own = dict(node.value)
        entries = self.entries(own.pop("extends", None))
        entries += [(name, None) for name in extra]
        result: Node | None = None
        for entry, loc in entries:
            found = self.find(entry, path)
            if found is None:
                self.missing(entry, loc)
                continue
            if not self.vetted(entry, path, loc):
                continue
            if found in chain or found == path:
                names = [self.display(p) for p in (*chain, path, found)]
                start = names.index(self.display(found))
                self.issues.append(
                    Issue(loc, "extends", "extends cycle: " + " → ".join(names[start:]))
                )
                continue
            sub = self.tree(found, (), (*chain, path))
            if sub is not None:
                result = sub if result is None else merge(result, sub)
        mine = Node(own, node.mark, node.key_mark)
        return mine if result is None else merge(result, mine)

    def vetted(self, entry: str, declaring: Path, loc: Location | None) -> bool:
        """A profile given by path passes the host-path policy (its text reaches the spec)."""
        if self.facts is None or not is_path(entry):
            return True
        verdict = hostpaths.check(
            entry,
            base=declaring.parent,
            facts=self.facts,
            read_only=True,
            allowed=(),
            what="profile file",
            kind="file",
            cap=hostfiles.SPEC_FILE_CAP,
            opt_in=None,
        )
        for message, hint in verdict.errors:
            self.issues.append(Issue(loc, "extends", message, hint))
        return not verdict.errors

    def entries(self, node: Node | None) -> list[tuple[str, Location | None]]:
        if node is None or node.value is None:
            return []
        items = node.value if isinstance(node.value, list) else [node]
        out: list[tuple[str, Location | None]] = []
        for i, item in enumerate(items):
            if isinstance(item.value, str) and item.value:
                out.append((item.value, item.loc))
            else:
                where = ("extends", i) if isinstance(node.value, list) else ("extends",)
                self.issues.append(
                    Issue(item.loc, format_path(where), "expected a profile name or path")
                )
        return out

    def missing(self, entry: str, loc: Location | None) -> None:
        if is_path(entry):
            self.issues.append(Issue(loc, "extends", f"profile file {entry!r} not found"))
            return
        available = self.available()
        hint = did_you_mean(
            entry,
            available,
            "available profiles: " + ", ".join(available)
            if available
            else "no profiles are installed; use a path like ./base.yaml",
        )
        where = "extends" if loc is not None else "--profile"
        self.issues.append(Issue(loc, where, f"profile {entry!r} not found", hint))
