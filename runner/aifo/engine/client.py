"""`DockerEngine`: the `aifo.engine.api.Engine` contract over the raw `docker` CLI.

The hot path (observe, inspect, create/start/stop/remove/rename, networks, volumes) goes through
`aifo.engine.run.Runner`, a bare subprocess call: python-on-whales costs ~0.25 s to import,
which is the whole budget of a no-op apply. It is used only for `info()`, off the hot path.
See docs/engine.md.

`DockerEngine` is composed of one mixin per concept: `cli_observe` (listing, observe),
`cli_objects` (lock, networks, volumes, container lifecycle), `cli_images` (pull, build),
`cli_exec` (exec, logs), on `cli_core` (the runner); the daemon's facts live here.
"""

from __future__ import annotations

from typing import Any

from aifo.engine import parse
from aifo.engine.api import EngineFacts
from aifo.engine.cli_exec import CliExec
from aifo.engine.cli_images import CliImages
from aifo.engine.cli_objects import CliObjects
from aifo.engine.cli_observe import CliObserve
from aifo.engine.guard import HostGuard
from aifo.engine.translate import translate
from aifo.engine.volumecopy import CliVolumeCopy
from aifo.errors import EngineError
from aifo.model import LABEL_DOCTOR, LABEL_STAND_IN


class DockerEngine(CliObserve, CliObjects, CliImages, CliExec, CliVolumeCopy, HostGuard):
    """The Docker adapter. `calls` counts `docker` CLI invocations (for batching assertions)."""

    # -- daemon -----------------------------------------------------------------------------
    def ping(self) -> None:
        self._run(["version", "--format", "{{.Server.APIVersion}}"], "reach", "the Docker daemon")

    def security_options(self) -> tuple[str, ...]:
        """The daemon's security options, e.g. `name=apparmor`, `name=seccomp,profile=default`."""
        out = self._run(["info", "--format", "{{json .SecurityOptions}}"], "read", "engine info")
        return parse.json_list(out)

    def info(self) -> Any:
        """Full engine info via python-on-whales (slow import; diagnostics only)."""
        from python_on_whales import DockerClient
        from python_on_whales.exceptions import DockerException

        try:
            return DockerClient(client_call=[self.runner.docker]).system.info()
        except DockerException as exc:
            raise translate("read", "engine info", exc.return_code, exc.stderr or "") from exc

    def facts(self) -> EngineFacts:
        """Everything `aifo doctor` checks: `docker system info` through python-on-whales (its
        typed answer is the better tool off the hot path), API version, buildx, whether an
        internal network can be created (one is made and removed), seeded stand-in images."""
        import secrets

        try:
            info = self.info()
            api = self._run(["version", "--format", "{{.Server.APIVersion}}"], "read", "version")
        except EngineError as exc:
            return EngineFacts(error=exc.message)
        probe = f"aifo-doctor-{secrets.token_hex(4)}"
        internal: str | None = None
        guard: str | None = "no internal network to try it on"
        try:
            created = self.create_network(
                probe,
                driver="bridge",
                internal=True,
                subnet=None,
                labels={LABEL_DOCTOR: "true"},
            )
            try:
                found = self.inspect_networks([created or probe])
                guard = self.guard_probe(found[0] if found else None)
            finally:
                self.remove_network(created or probe)
        except EngineError as exc:
            internal = exc.message
        stand_ins = self.runner.call(
            ["image", "ls", "-q", "--filter", f"label={LABEL_STAND_IN}=true"],
            op="list",
            obj="stand-in images",
        )
        return EngineFacts(
            server_version=info.server_version,
            api_version=api.strip() or None,
            os=info.operating_system,
            storage_driver=info.driver,
            security_options=tuple(info.security_options or ()),
            warnings=tuple(info.warnings or ()),
            buildx=self.has_buildx(),
            internal_network=internal,
            host_guard=guard,
            stand_in_images=len(set(stand_ins.stdout.split())) if stand_ins.ok else 0,
        )
