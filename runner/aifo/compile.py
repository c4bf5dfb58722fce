"""Compile a resolved spec into the typed desired state (aifo.model). Pure.

Every default is applied here, so the planner and the engine adapter never guess, and so that
spelling a default out in the spec never changes a hash. Host facts (uid, gid, secret digests,
AppArmor, build-context hashing) come in through `CompileContext`, so compile reads nothing itself.
What each `config_hash` covers is decided in aifo.hashing. Compile also records, per graph edge,
the spec path that declared it (`Session.origins`), so a cycle names the exact `file:line`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from aifo import rootfs
from aifo.egress.rules import parse_all
from aifo.egress.sidecar import IMAGE_REPO as EGRESS_IMAGE_REPO
from aifo.egress.sidecar import VIA_DEFAULT
from aifo.egress.sidecar import expand as egress_expand
from aifo.errors import Issue, SpecError
from aifo.gcpause import gc_paused
from aifo.hashing import (
    build_identity,
    container_hash,
    hook_hash,
    image_hash,
    network_hash,
    volume_hash,
)
from aifo.hostcontext import CompileContext, check_context
from aifo.location import Location
from aifo.model import (
    Build,
    Container,
    Dependency,
    Egress,
    EnvVar,
    Hook,
    Image,
    Mount,
    Network,
    Port,
    Role,
    Session,
    Volume,
    docker_name,
)
from aifo.resources import data_dir
from aifo.route.layout import ROUTE_TARGET, agent_route_dir
from aifo.route.table import routes_of, tools_of
from aifo.values import commandline, healthcheck, ports, scalars, units

ROLES: tuple[tuple[str, Role], ...] = (
    ("agents", "agent"),
    ("toolchains", "toolchain"),
    ("services", "service"),
)
DEFAULT_PIDS_LIMIT = 4096
DEFAULT_READINESS_TIMEOUT_S = 60.0
BUILD_TAG_LENGTH = 12
__all__ = ["CompileContext", "Resolved", "check_context", "compile_session"]

Path_ = tuple[str | int, ...]  # a JSON path into the resolved spec
R = TypeVar("R", Network, Volume, Image, Container, Hook)


class Resolved(Protocol):
    """What compile needs from aifo.spec.ResolvedSpec."""

    @property
    def data(self) -> dict[str, Any]: ...

    @property
    def file(self) -> Path: ...

    @property
    def base_dir(self) -> Path: ...

    def location(self, *path: str | int) -> Location | None: ...


def compile_session(resolved: Resolved, *, context: CompileContext) -> Session:
    """The typed desired state; SpecError (exit 2) lists every located problem."""
    with gc_paused():
        return _Compiler(resolved, context).session()


class _Compiler:
    def __init__(self, resolved: Resolved, context: CompileContext) -> None:
        self.resolved = resolved
        self.ctx = context
        proxy_context = str(data_dir("profiles") / "egress")
        self.data = egress_expand(
            resolved.data, context=proxy_context, image=lambda: self.proxy_image(proxy_context)
        )
        self.session_name = str(self.data["session"])
        self.issues: list[Issue] = []
        self.images: dict[str, Image] = {}
        self.origins: dict[tuple[str, str], Path_] = {}
        self.roles: dict[str, Role] = {
            name: role for key, role in ROLES for name in (self.data.get(key) or {})
        }

    def fail(self, path: Path_, message: str) -> None:
        where = ".".join(str(p) for p in path)
        self.issues.append(Issue(self.resolved.location(*path), where, message))

    def session(self) -> Session:
        networks = tuple(self.network(n, c or {}) for n, c in _items(self.data, "networks"))
        volumes = tuple(self.volume(n, c or {}) for n, c in _items(self.data, "volumes"))
        self.volume_names = {v.name: v.docker_name for v in volumes}
        containers: list[Container] = []
        hooks: list[Hook] = []
        for key, role in ROLES:
            for name, cfg in _items(self.data, key):
                container = self.container(key, name, role, cfg or {})
                if container is not None:
                    containers.append(container)
                    hooks += self.hooks(key, name, container, cfg or {})
        if self.issues:
            raise SpecError(self.issues)
        return Session(
            name=self.session_name,
            networks=networks,
            volumes=volumes,
            images=tuple(sorted(self.images.values(), key=lambda i: i.ref)),
            containers=tuple(containers),
            hooks=tuple(hooks),
            spec_file=str(self.resolved.file),
            origins=self.origins,
        )

    # -- networks and volumes ---------------------------------------------------------------
    def network(self, name: str, cfg: Mapping[str, Any]) -> Network:
        external = bool(cfg.get("external", False))
        net = Network(
            name=name,
            docker_name=str(cfg.get("name") or name) if external else self.docker(name),
            internal=bool(cfg.get("internal", False)),
            external=external,
            driver=str(cfg.get("driver", "bridge")),
            subnet=cfg.get("subnet"),
            labels=scalars.pairs(cfg.get("labels")),
        )
        return _hashed(net, network_hash(net))

    def volume(self, name: str, cfg: Mapping[str, Any]) -> Volume:
        external = bool(cfg.get("external", False))
        shared = cfg.get("scope", "session") == "shared"
        if external:
            dname = str(cfg.get("name") or name)
        elif shared:
            dname = f"aifo-shared-{name}"  # one volume across sessions (caches)
        else:
            dname = self.docker(name)
        vol = Volume(
            name=name,
            docker_name=dname,
            external=external,
            shared=shared,
            labels=scalars.pairs(cfg.get("labels")),
        )
        return _hashed(vol, volume_hash(vol))

    def docker(self, name: str) -> str:
        return docker_name(self.session_name, name)

    # -- containers -------------------------------------------------------------------------
    def container(
        self, key: str, name: str, role: Role, cfg: Mapping[str, Any]
    ) -> Container | None:
        path: Path_ = (key, name)
        image = self.image(path, name, cfg)
        if image is None:
            return None
        security = cfg.get("security") or {}
        resources = cfg.get("resources") or {}
        read_only = bool(security.get("read_only", True))
        user = self.user(role, cfg.get("user"))
        env = self.env(path, cfg.get("env") or {})
        if read_only and user is not None:  # the image's own user keeps the image's HOME
            env = rootfs.with_home(env)
        routes = routes_of(self.data, cfg) if role == "agent" else ()
        mounts = self.mounts(path, role, cfg, read_only, rootfs.home_of(env))
        host_dirs = {str(m["source"]) for m in cfg.get("mounts") or () if m.get("create")}
        if routes:
            # The agent's private route folder (shims, requests); apply makes it 0700.
            route_dir = agent_route_dir(self.ctx.route_root, name)
            mounts = tuple(sorted((*mounts, Mount("bind", ROUTE_TARGET, route_dir)), key=_target))
            host_dirs.add(route_dir)
        routing = cfg.get("routing") or {}
        health = cfg.get("healthcheck")
        security_opt = ("apparmor=docker-default",) if self.ctx.apparmor else ()
        try:
            container = Container(
                name=name,
                role=role,
                docker_name=self.docker(name),
                image=image.ref,
                command=commandline.argv(cfg.get("command")),
                entrypoint=commandline.argv(cfg.get("entrypoint")),
                env=env,
                mounts=mounts,
                networks=tuple(sorted(cfg.get("networks") or ())),
                aliases=(name,),
                user=user,
                working_dir=cfg.get("working_dir") or self.default_workdir(role, cfg),
                hostname=cfg.get("hostname"),
                memory_bytes=_opt(units.size_bytes, resources.get("memory")),
                cpus=_opt(float, resources.get("cpus")),
                pids_limit=int(resources.get("pids", DEFAULT_PIDS_LIMIT)),
                cap_add=tuple(sorted(security.get("cap_add") or ())),
                cap_drop=tuple(sorted(security.get("cap_drop", ["ALL"]) or ())),
                no_new_privileges=bool(security.get("no_new_privileges", True)),
                read_only=read_only,
                privileged=bool(security.get("privileged", False)),
                security_opt=security_opt,
                init=bool(cfg.get("init", True)),
                restart=str(cfg.get("restart", "no")),
                tty=bool(cfg.get("tty", False)),
                healthcheck=healthcheck.healthcheck(health) if health else None,
                labels=scalars.pairs(cfg.get("labels")),
                ports=tuple(sorted((ports.port(p) for p in cfg.get("ports") or ()), key=_port_key)),
                depends_on=self.depends_on(cfg.get("depends_on")),
                readiness_timeout_s=units.seconds(
                    cfg.get("readiness_timeout", DEFAULT_READINESS_TIMEOUT_S)
                ),
                toolchains=tuple(f"toolchain/{t}" for t in sorted(cfg.get("toolchains") or ())),
                run=commandline.argv(cfg.get("run")),
                host_dirs=tuple(sorted(host_dirs)),
                tools=tools_of(cfg) if role == "toolchain" else (),
                pass_env=tuple(sorted(cfg.get("pass_env") or ())) if role == "toolchain" else (),
                routes=routes,
                route_limit=int(routing.get("max_concurrent", 8)),
                route_timeout_s=_opt(units.seconds, routing.get("max_runtime")),
                egress=_egress(cfg.get("egress")),
            )
        except (ValueError, KeyError) as exc:
            self.fail(path, f"cannot compile: {exc}")
            return None
        self.record_origins(path, container, cfg)
        return _hashed(container, container_hash(container, image))

    def record_origins(self, path: Path_, c: Container, cfg: Mapping[str, Any]) -> None:
        """Where each of the container's edges was declared (list items by index)."""
        self.origins[(c.id, f"image/{c.image}")] = (*path, "image")
        for i, net in enumerate(cfg.get("networks") or ()):
            self.origins[(c.id, f"network/{net}")] = (*path, "networks", i)
        for i, m in enumerate(cfg.get("mounts") or ()):
            if "volume" in m:
                self.origins[(c.id, f"volume/{m['volume']}")] = (*path, "mounts", i)
        for i, t in enumerate(cfg.get("toolchains") or ()):
            self.origins[(c.id, f"toolchain/{t}")] = (*path, "toolchains", i)
        deps = cfg.get("depends_on") or ()
        keyed: list[tuple[str, str | int]] = (
            [(t, t) for t in deps]
            if isinstance(deps, dict)
            else [(t, i) for i, t in enumerate(deps)]
        )
        for target, key in keyed:
            if target in self.roles:
                self.origins[(c.id, f"{self.roles[target]}/{target}")] = (*path, "depends_on", key)

    def proxy_image(self, context: str) -> str:
        """The egress proxy's image: tagged by what the build would produce, not by session."""
        build = Build(context=context, context_hash=self.ctx.build_hash(context, None))
        return f"{EGRESS_IMAGE_REPO}:{build_identity(build)[:BUILD_TAG_LENGTH]}"

    def image(self, path: Path_, name: str, cfg: Mapping[str, Any]) -> Image | None:
        spec = cfg.get("image")
        pull = cfg.get("pull", "missing")
        if spec is None:
            self.fail((*path, "image"), "no image: set `image:` (a reference or a build)")
            return None
        if isinstance(spec, str):
            ref = spec
            if "{version}" in ref:
                version = cfg.get("version")
                if version is None:
                    self.fail((*path, "image"), "the image needs a `version:` for {version}")
                    return None
                ref = ref.replace("{version}", str(version))
            image = Image(ref=ref, pull=pull)
        else:
            b = spec["build"]
            try:
                chash = self.ctx.build_hash(b["context"], b.get("dockerfile"))
            except OSError as exc:  # e.g. an unreadable file: `docker build` would fail too
                self.fail((*path, "image", "build", "context"), f"cannot read the context: {exc}")
                return None
            bundle = self.ctx.ca_bundle() if b.get("trust_host_cas") else None
            if b.get("trust_host_cas") and bundle is None:
                self.fail(
                    (*path, "image", "build", "trust_host_cas"),
                    "this host has no CA bundle to trust (set SSL_CERT_FILE to one)",
                )
                return None
            build = Build(
                context=str(b["context"]),
                dockerfile=b.get("dockerfile"),
                args=scalars.pairs(b.get("args")),
                target=b.get("target"),
                context_hash=chash,
                ca_bundle=bundle[0] if bundle else None,
                ca_bundle_hash=bundle[1] if bundle else "",
            )
            # The tag covers files, Dockerfile, args and target: the planner reuses a present
            # tag as is, so a changed build arg must yield a new tag (and the old one stays for
            # rollback).
            tag = build_identity(build)[:BUILD_TAG_LENGTH]
            ref = spec.get("name") or f"{self.docker(name)}:{tag}"
            image = Image(ref=ref, build=build, pull=pull)
        image = _hashed(image, image_hash(image))
        known = self.images.get(image.ref)
        if known is not None and known != image:
            self.fail((*path, "image"), f"image {image.ref} is declared twice, differently")
        self.images[image.ref] = image
        return image

    def env(self, path: Path_, env: Mapping[str, Any]) -> tuple[EnvVar, ...]:
        out: list[EnvVar] = []
        for key in sorted(env):
            raw = env[key]
            if not isinstance(raw, dict):
                out.append(EnvVar(key=key, value=scalars.scalar(raw)))
                continue
            secret = bool(raw.get("secret", False)) or "from_file" in raw
            if not secret:  # the spec stage resolves non-secret from_host; values stay plain
                if "value" in raw:
                    out.append(EnvVar(key=key, value=scalars.scalar(raw["value"])))
                continue
            # A literal {value, secret: true} keeps its value in memory (it has no other source);
            # hashes and renderings only ever see the digest.
            var = EnvVar(
                key=key,
                secret=True,
                value=scalars.scalar(raw["value"]) if "value" in raw else None,
                from_host=raw.get("from_host"),
                from_file=raw.get("from_file"),
                required=bool(raw.get("required", True)),
                default=scalars.scalar(raw["default"]) if raw.get("default") is not None else None,
            )
            out.append(dataclasses.replace(var, digest=self.ctx.secret_digest(var)))
        return tuple(out)

    def mounts(
        self,
        path: Path_,
        role: Role,
        cfg: Mapping[str, Any],
        read_only_root: bool,
        home: str | None,
    ) -> tuple[Mount, ...]:
        mounts: dict[str, Mount] = {}
        ws = self.data.get("workspace") or {}
        if cfg.get("workspace", role != "service"):
            target = str(ws.get("target", "/workspace"))
            source = str(ws.get("path") or self.resolved.base_dir)
            mounts[target] = Mount("bind", target, source, bool(ws.get("read_only", False)))
        for m in cfg.get("mounts") or ():
            if "tmpfs" in m:
                mount = Mount("tmpfs", str(m["tmpfs"]), None, False, m.get("size"))
            elif "volume" in m:
                mount = Mount(
                    "volume", str(m["target"]), str(m["volume"]), bool(m.get("read_only"))
                )
            else:
                mount = Mount("bind", str(m["target"]), str(m["source"]), bool(m.get("read_only")))
            mounts[mount.target] = mount
        if read_only_root:
            rootfs.add_writable(mounts, home)
        return tuple(mounts[t] for t in sorted(mounts))

    def user(self, role: Role, value: Any) -> str | None:
        chosen = str(value) if value is not None else ("image" if role == "service" else "host")
        if chosen == "host":
            return f"{self.ctx.uid}:{self.ctx.gid}"
        if chosen == "image":
            return None
        return chosen

    def default_workdir(self, role: Role, cfg: Mapping[str, Any]) -> str | None:
        if cfg.get("workspace", role != "service"):
            return str((self.data.get("workspace") or {}).get("target", "/workspace"))
        return None

    def depends_on(self, value: Any) -> tuple[Dependency, ...]:
        if not value:
            return ()
        items = value.items() if isinstance(value, dict) else ((v, None) for v in value)
        deps = []
        for target, opts in items:
            role = self.roles[target]
            default = self._readiness(target)
            condition = (opts or {}).get("condition", default)
            deps.append(Dependency(target=f"{role}/{target}", condition=condition))
        return tuple(sorted(deps, key=lambda d: d.target))

    def _readiness(self, name: str) -> Any:
        key = {role: k for k, role in ROLES}[self.roles[name]]
        return ((self.data.get(key) or {}).get(name) or {}).get("readiness", "started")

    def hooks(
        self, key: str, name: str, container: Container, cfg: Mapping[str, Any]
    ) -> list[Hook]:
        out = []
        for i, h in enumerate(cfg.get("hooks") or ()):
            run = h["run"]
            command = (
                ("/bin/sh", "-c", run) if isinstance(run, str) else commandline.argv(run) or ()
            )
            hook = Hook(
                name=str(h.get("name") or f"hook{i + 1}"),
                container=container.id,
                command=command,
                user=str(h["user"]) if h.get("user") is not None else None,
            )
            out.append(_hashed(hook, hook_hash(hook, container.config_hash)))
            self.origins[(hook.id, container.id)] = (key, name, "hooks", i)
        return out


def _target(m: Mount) -> str:
    return m.target


def _items(data: Mapping[str, Any], key: str) -> list[tuple[str, Any]]:
    return sorted((data.get(key) or {}).items())


def _hashed(resource: R, digest: str) -> R:
    """Set the config hash of a resource compile has just created and nobody else has seen.

    `dataclasses.replace` would re-run `__init__` per resource: a quarter of compile time.
    """
    object.__setattr__(resource, "config_hash", digest)
    return resource


def _egress(value: Any) -> Egress | None:
    if not value:
        return None
    rules = parse_all(list(value.get("allow") or ()))
    return Egress(allow=tuple(r.text for r in rules), via=str(value.get("via") or VIA_DEFAULT))


def _opt(fn: Callable[[Any], Any], value: Any) -> Any:
    return None if value is None else fn(value)


def _port_key(p: Port) -> tuple[int, str, str, int]:
    return (p.container_port, p.protocol, p.host_ip, p.host_port or 0)
