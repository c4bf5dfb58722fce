"""The last spec step: host paths made absolute and vetted, non-secret host variables read.

- mount sources, `from_file` paths, build contexts and Dockerfiles are resolved relative to the
  file that declared them (`~` too), and every one of them, like the workspace, goes through the
  host-path policy (aifo.sessionspec.hostpaths);
- `workspace.path` is made absolute (relative to the spec's directory);
- a non-secret `{from_host: VAR}` becomes VAR's value (or `default`, or is dropped when
  `required: false`); secret ones stay as they are, for apply time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aifo.host import files as hostfiles
from aifo.issue import Issue
from aifo.sessionspec import hostpaths
from aifo.sessionspec.hostfacts import HostFacts
from aifo.sessionspec.nodes import JsonPath, Plain, format_path, nearest
from aifo.sessionspec.semantics import containers

WORKSPACE_DEFAULT = {"agents": True, "toolchains": True, "services": False}  # `workspace:` unset
CONTAINER_OPT_IN = "add `{allow}` to the container's `allow:` list to opt in, if you really mean it"
ENTRY_OPT_IN = "add `allow: {allow}` to this entry (or the container's `allow:`) to opt in"


class Finalizer:
    def __init__(
        self,
        plain: Plain,
        *,
        spec_dir: Path,
        files: Mapping[str, Path],
        home: Path,
        environ: Mapping[str, str],
        facts: HostFacts,
    ) -> None:
        self.plain = plain
        self.data: dict[str, Any] = plain.data
        self.spec_dir = spec_dir
        self.files = files
        self.home = home
        self.environ = environ
        self.facts = facts
        self.issues: list[Issue] = []
        self.warnings: list[Issue] = []

    def base_of(self, path: JsonPath) -> Path:
        """The folder of the file that wrote the value at `path`."""
        loc = nearest(self.plain.values, path)
        declared = self.files.get(loc.file) if loc else None
        return declared.parent if declared else self.spec_dir

    def add(self, path: JsonPath, message: str, hint: str | None = None) -> None:
        self.issues.append(
            Issue(nearest(self.plain.values, path), format_path(path), message, hint)
        )

    def warn(self, path: JsonPath, message: str) -> None:
        self.warnings.append(Issue(nearest(self.plain.values, path), format_path(path), message))

    def run(self) -> None:
        for section, name, container in containers(self.data):
            base: JsonPath = (section, name)
            self.image(base, container)
            self.env(base, container)
            self.binds(base, container)
        self.workspace()
        self.fork_include()

    def vet(self, path: JsonPath, verdict: hostpaths.Verdict) -> str:
        """Report a verdict at `path`; returns the real path."""
        for message, hint in verdict.errors:
            self.add(path, message, hint)
        for message in verdict.warnings:
            self.warn(path, message)
        return str(verdict.path)

    def image(self, base: JsonPath, container: dict[str, Any]) -> None:
        image = container.get("image")
        if not (isinstance(image, dict) and "build" in image):
            return
        build = image["build"]
        allowed = set(container.get("allow") or [])
        path = (*base, "image", "build", "context")
        verdict = hostpaths.check(
            build["context"],
            base=self.base_of(path),
            facts=self.facts,
            read_only=True,
            allowed=allowed,
            what="build context",
            kind="folder",
            opt_in=CONTAINER_OPT_IN,
        )
        build["context"] = context = self.vet(path, verdict)
        if verdict.errors:
            return
        where = (*base, "image", "build", "dockerfile")
        name = str(build.get("dockerfile", "Dockerfile"))
        verdict = hostpaths.check(
            name,
            base=Path(context),
            facts=self.facts,
            read_only=True,
            allowed=allowed,
            what="Dockerfile",
            kind="file",
            cap=hostfiles.DOCKERFILE_CAP,
            opt_in=CONTAINER_OPT_IN,
        )
        self.vet(where, verdict)
        if not verdict.errors and not verdict.path.is_relative_to(context):
            self.add(
                where,
                f"Dockerfile {verdict.path} is outside the build context {context}",
                "keep the Dockerfile inside the build context",
            )

    def env(self, base: JsonPath, container: dict[str, Any]) -> None:
        env = container.get("env") or {}
        for key in list(env):
            entry = env[key]
            path = (*base, "env", key)
            if not isinstance(entry, dict):
                env[key] = self.as_written(path, entry)
                continue
            if "value" in entry:
                entry["value"] = self.as_written((*path, "value"), entry["value"])
            if "from_file" in entry:
                where = (*path, "from_file")
                verdict = hostpaths.check(
                    entry["from_file"],
                    base=self.base_of(where),
                    facts=self.facts,
                    read_only=True,
                    allowed={
                        *(container.get("allow") or ()),
                        *([entry["allow"]] if "allow" in entry else []),
                    },
                    what="from_file",
                    kind="file",
                    cap=hostfiles.FROM_FILE_CAP,
                    missing_ok=True,  # read at apply time, which reports a missing file
                    opt_in=ENTRY_OPT_IN,
                )
                entry["from_file"] = self.vet(where, verdict)
            elif "from_host" in entry and not entry.get("secret", False):
                self.from_host(path, env, key, entry)

    def as_written(self, path: JsonPath, value: Any) -> Any:
        """A number YAML 1.1 retyped (`3.10` -> 3.1, `0755` -> 493) keeps its source text."""
        raw = self.plain.raws.get(path)
        if raw is not None and isinstance(value, int | float) and not isinstance(value, bool):
            return raw
        return value

    def from_host(
        self, path: JsonPath, env: dict[str, Any], key: str, entry: dict[str, Any]
    ) -> None:
        var = entry["from_host"]
        value = self.environ.get(var, entry.get("default"))
        for child in ("from_host", "secret", "required", "default"):
            self.plain.values.pop((*path, child))
        if value is None:
            if entry.get("required", True):
                self.add(
                    path,
                    f"host variable ${var} is not set",
                    "set it, give a `default`, or add `required: false`",
                )
            else:
                del env[key]
            return
        env[key] = value
        source = f"from ${var}" if var in self.environ else "default"
        self.plain.notes[path] = source

    def binds(self, base: JsonPath, container: dict[str, Any]) -> None:
        allowed_here = set(container.get("allow") or [])
        for i, mount in enumerate(container.get("mounts") or []):
            if "source" not in mount:
                continue
            path = (*base, "mounts", i, "source")
            allowed = allowed_here | ({mount["allow"]} if "allow" in mount else set())
            verdict = hostpaths.check(
                mount["source"],
                base=self.base_of(path),
                facts=self.facts,
                read_only=bool(mount.get("read_only", False)),
                allowed=allowed,
                create=bool(mount.get("create", False)),
            )
            mount["source"] = self.vet(path, verdict)

    def workspace(self) -> None:
        used = any(
            container.get("workspace", WORKSPACE_DEFAULT[section])
            for section, _name, container in containers(self.data)
        )
        workspace = self.data.get("workspace")
        if not used:
            return
        settings: dict[str, Any] = workspace if isinstance(workspace, dict) else {}
        path: JsonPath = ("workspace", "path") if "path" in settings else ("workspace",)
        verdict = hostpaths.check(
            str(settings.get("path", ".")),
            base=self.spec_dir,
            facts=self.facts,
            read_only=bool(settings.get("read_only", False)),
            allowed={settings["allow"]} if "allow" in settings else set(),
            what="workspace",
            kind="folder",
            opt_in="set `workspace.allow: {allow}` to opt in, or point workspace.path elsewhere",
        )
        real = self.vet(path, verdict)
        if "path" in settings:
            settings["path"] = real

    def fork_include(self) -> None:
        """`fork.include:` entries are copied into every fork's clone: vetted as read-only
        mount sources would be, made absolute (aifo.fork checks they are in the repository)."""
        fork = self.data.get("fork")
        entries = fork.get("include") if isinstance(fork, dict) else None
        if not isinstance(entries, list):
            return
        for i, entry in enumerate(entries):
            path: JsonPath = ("fork", "include", i)
            verdict = hostpaths.check(
                str(entry),
                base=self.base_of(path),
                facts=self.facts,
                read_only=True,
                allowed=set(),
                what="fork.include entry",
                opt_in=None,
            )
            entries[i] = self.vet(path, verdict)


def finalize(
    plain: Plain,
    *,
    spec_dir: Path,
    files: Mapping[str, Path],
    home: Path,
    environ: Mapping[str, str],
    facts: HostFacts,
) -> tuple[list[Issue], list[Issue]]:
    """Rewrite `plain.data` in place; returns (errors, warnings)."""
    worker = Finalizer(
        plain, spec_dir=spec_dir, files=files, home=home, environ=environ, facts=facts
    )
    worker.run()
    return worker.issues, worker.warnings
