"""The last spec step: host paths made absolute and vetted, non-secret host variables read.

- mount sources, `from_file` paths and build contexts are resolved relative to the file that
  declared them (`~` too); mount sources and the workspace go through the mount policy;
- `workspace.path` is made absolute (relative to the spec's directory);
- a non-secret `{from_host: VAR}` becomes VAR's value (or `default`, or is dropped when
  `required: false`); secret ones stay as they are, for apply time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aifo.errors import Issue
from aifo.spec import mounts
from aifo.spec.nodes import JsonPath, Plain, format_path, nearest
from aifo.spec.semantics import containers

_WORKSPACE_DEFAULT = {"agents": True, "toolchains": True, "services": False}


class Finalizer:
    def __init__(
        self,
        plain: Plain,
        *,
        spec_dir: Path,
        files: Mapping[str, Path],
        home: Path,
        environ: Mapping[str, str],
        look: mounts.Probe = mounts.probe,
    ) -> None:
        self.plain = plain
        self.data: dict[str, Any] = plain.data
        self.spec_dir = spec_dir
        self.files = files
        self.home = home
        self.environ = environ
        self.look = look
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

    def image(self, base: JsonPath, container: dict[str, Any]) -> None:
        image = container.get("image")
        if isinstance(image, dict) and "build" in image:
            path = (*base, "image", "build", "context")
            context = mounts.expand(image["build"]["context"], self.base_of(path), self.home)
            image["build"]["context"] = str(context)

    def env(self, base: JsonPath, container: dict[str, Any]) -> None:
        env = container.get("env") or {}
        for key in list(env):
            entry = env[key]
            path = (*base, "env", key)
            if not isinstance(entry, dict):
                continue
            if "from_file" in entry:
                where = (*path, "from_file")
                entry["from_file"] = str(
                    mounts.expand(entry["from_file"], self.base_of(where), self.home)
                )
            elif "from_host" in entry and not entry.get("secret", False):
                self.from_host(path, env, key, entry)

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
            verdict = mounts.check(
                mount["source"],
                base=self.base_of(path),
                home=self.home,
                read_only=bool(mount.get("read_only", False)),
                allowed=allowed,
                create=bool(mount.get("create", False)),
                look=self.look,
            )
            for message, hint in verdict.errors:
                self.add(path, message, hint)
            for message in verdict.warnings:
                self.warn(path, message)
            mount["source"] = str(verdict.path)

    def workspace(self) -> None:
        used = any(
            container.get("workspace", _WORKSPACE_DEFAULT[section])
            for section, _name, container in containers(self.data)
        )
        workspace = self.data.get("workspace")
        if not used:
            return
        settings: dict[str, Any] = workspace if isinstance(workspace, dict) else {}
        path: JsonPath = ("workspace", "path") if "path" in settings else ("workspace",)
        verdict = mounts.check(
            str(settings.get("path", ".")),
            base=self.spec_dir,
            home=self.home,
            read_only=bool(settings.get("read_only", False)),
            allowed={settings["allow"]} if "allow" in settings else set(),
            create=False,
            what="workspace",
            look=self.look,
        )
        refusal = "set workspace.allow: sensitive to opt in, or point workspace.path elsewhere"
        for message, hint in verdict.errors:
            self.add(path, message, refusal if "allow: sensitive" in (hint or "") else hint)
        for message in verdict.warnings:
            self.warn(path, message)
        if "path" in settings:
            settings["path"] = str(verdict.path)


def finalize(
    plain: Plain,
    *,
    spec_dir: Path,
    files: Mapping[str, Path],
    home: Path,
    environ: Mapping[str, str],
    look: mounts.Probe = mounts.probe,
) -> tuple[list[Issue], list[Issue]]:
    """Rewrite `plain.data` in place; returns (errors, warnings)."""
    worker = Finalizer(plain, spec_dir=spec_dir, files=files, home=home, environ=environ, look=look)
    worker.run()
    return worker.issues, worker.warnings
