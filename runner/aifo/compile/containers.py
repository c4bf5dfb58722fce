"""Compile one agent, toolchain or service into a `Container`: env, mounts, user, dependencies."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from aifo.compile import rootfs
from aifo.compile.core import (
    DEFAULT_PIDS_LIMIT,
    DEFAULT_READINESS_TIMEOUT_S,
    ROLES,
    Path_,
    hashed,
)
from aifo.compile.images import ImageCompiler
from aifo.compile.workspace import refused_bind, workspace_mount
from aifo.egress.sidecar import VIA_DEFAULT
from aifo.model import Container, Dependency, Egress, EnvVar, Mount, Port, Role
from aifo.model.hashing import container_hash
from aifo.route.layout import ROUTE_TARGET, ROUTE_TMPFS_SIZE, agent_route_dir
from aifo.route.table import routes_of, tools_of
from aifo.sessionspec.nodes import format_path
from aifo.values import commandline, healthcheck, ports, scalars, units


class ContainerCompiler(ImageCompiler):
    """Containers with every default applied, and where each of their edges was declared."""

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
        if routes and self.ctx.route_exec():
            # No shared folder (the agent may run on another machine): a tmpfs the router fills
            # and reads through the engine's exec (aifo.route.execroute).
            route = Mount("tmpfs", ROUTE_TARGET, tmpfs_size=ROUTE_TMPFS_SIZE)
            mounts = tuple(sorted((*mounts, route), key=_target))
        elif routes:
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
        return hashed(container, container_hash(container, image))

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
            read_only = bool(ws.get("read_only", False))
            reach = self.ctx.binds_reach
            mounts[target] = workspace_mount(target, source, read_only, binds_reach=reach)
            if not reach:
                self.seeds.add(source)
        for i, m in enumerate(cfg.get("mounts") or ()):
            if "tmpfs" in m:
                mount = Mount("tmpfs", str(m["tmpfs"]), None, False, m.get("size"))
            elif "volume" in m:
                mount = Mount(
                    "volume", str(m["target"]), str(m["volume"]), bool(m.get("read_only"))
                )
            else:
                mount = Mount("bind", str(m["target"]), str(m["source"]), bool(m.get("read_only")))
                if not self.ctx.binds_reach:
                    where = (*path, "mounts", i, "source")
                    self.issues.append(
                        refused_bind(
                            self.resolved.location(*where), format_path(where), str(m["source"])
                        )
                    )
                    continue
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


def _target(m: Mount) -> str:
    return m.target


def _egress(value: Any) -> Egress | None:
    if not value:
        return None
    from aifo.egress.rules import parse_all  # a spec without egress does not load it

    rules = parse_all(list(value.get("allow") or ()))
    return Egress(allow=tuple(r.text for r in rules), via=str(value.get("via") or VIA_DEFAULT))


def _opt(fn: Callable[[Any], Any], value: Any) -> Any:
    return None if value is None else fn(value)


def _port_key(p: Port) -> tuple[int, str, str, int]:
    return (p.container_port, p.protocol, p.host_ip, p.host_port or 0)
