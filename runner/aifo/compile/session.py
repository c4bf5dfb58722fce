"""`Compiler`: the whole session: networks, volumes, containers, their hooks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aifo.compile.containers import ContainerCompiler
from aifo.compile.core import ROLES, Path_, Resolved, hashed, sorted_items
from aifo.compile.hostcontext import CompileContext
from aifo.compile.workspace import WORKSPACE_VOLUME, workspace_volume
from aifo.egress.sidecar import expand as egress_expand
from aifo.errors import SpecError
from aifo.issue import Issue
from aifo.model import Container, Hook, Image, Network, Role, Session, Volume
from aifo.model.hashing import hook_hash, network_hash, volume_hash
from aifo.sessionspec.shipped import data_dir
from aifo.values import commandline, scalars


class Compiler(ContainerCompiler):
    """Compiles one resolved spec; `session()` raises SpecError with every issue found."""

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
        self.seeds: set[str] = set()  # the workspace, when it becomes a volume (compile/workspace)
        self.roles: dict[str, Role] = {
            name: role for key, role in ROLES for name in (self.data.get(key) or {})
        }

    def session(self) -> Session:
        networks = tuple(self.network(n, c or {}) for n, c in sorted_items(self.data, "networks"))
        volumes = tuple(self.volume(n, c or {}) for n, c in sorted_items(self.data, "volumes"))
        self.volume_names = {v.name: v.docker_name for v in volumes}
        containers: list[Container] = []
        hooks: list[Hook] = []
        for key, role in ROLES:
            for name, cfg in sorted_items(self.data, key):
                container = self.container(key, name, role, cfg or {})
                if container is not None:
                    containers.append(container)
                    hooks += self.hooks(key, name, container, cfg or {})
        if self.seeds:
            if any(v.name == WORKSPACE_VOLUME for v in volumes):
                self.fail(("volumes", WORKSPACE_VOLUME), "this volume name is aifo's own")
            volumes = (*volumes, workspace_volume(self.session_name, min(self.seeds)))
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
            host_reach="host" in (cfg.get("allow") or ()),
        )
        return hashed(net, network_hash(net))

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
        return hashed(vol, volume_hash(vol))

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
            out.append(hashed(hook, hook_hash(hook, container.config_hash)))
            self.origins[(hook.id, container.id)] = (key, name, "hooks", i)
        return out
