"""Images over the `docker` CLI (part of `DockerEngine`): pull, build, remove."""

from __future__ import annotations

from collections.abc import Mapping

from aifo.engine import args as A
from aifo.engine.api import OnStep
from aifo.engine.cli_core import CliCore
from aifo.model import Build


class CliImages(CliCore):
    """Pull, build (buildx when present) and remove images."""

    _buildx: bool | None = None

    def pull_image(self, ref: str) -> None:
        self._run(["pull", "-q", "--", ref], "pull image", ref, timeout_s=600.0)

    def has_buildx(self) -> bool:
        if self._buildx is None:
            self._buildx = self.runner.call(["buildx", "version"], op="probe", obj="buildx").ok
        return self._buildx

    def build_image(
        self,
        ref: str,
        build: Build,
        *,
        labels: Mapping[str, str],
        on_step: OnStep | None = None,
    ) -> None:
        """Build with buildx when present, else the legacy builder (DOCKER_BUILDKIT=0), streamed
        (engine/build.py). Build-arg values travel in the CLI's environment, not on its command
        line."""
        from aifo.engine.build import stream_build, trusted_dockerfile  # off `aifo exec`'s path

        buildx = self.has_buildx()
        env = dict(build.args)
        if not buildx:
            env["DOCKER_BUILDKIT"] = "0"
        with trusted_dockerfile(self.runner, build) as dockerfile:
            stream_build(
                self.runner,
                A.build_args(ref, build, labels, buildx=buildx, dockerfile=dockerfile),
                ref=ref,
                env=env,
                redact=[v for _, v in build.args],
                on_step=on_step,
                timeout_s=3600.0,
            )

    def remove_image(self, ref: str) -> None:
        self._run(["image", "rm", "--", ref], "remove image", ref, image_is_object=True)
