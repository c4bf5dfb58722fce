"""The session's objects over the `docker` CLI (part of `DockerEngine`): the session lock,
networks, volumes and the container lifecycle."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from aifo.engine import args as A
from aifo.engine import parse
from aifo.engine.cli_core import CliCore, check_inspect
from aifo.engine.translate import is_not_found, lines_of, removal_in_progress, translate
from aifo.errors import EngineError, ImageMissing
from aifo.model import Container
from aifo.model.observed import ObservedContainer, ObservedNetwork


class CliObjects(CliCore):
    """Create, connect, start, stop, rename, inspect and remove containers, networks, volumes."""

    # -- the session lock -------------------------------------------------------------------
    def create_lock(self, name: str, labels: Mapping[str, str]) -> str:
        """One `docker create` (Conflict when taken); the empty lock image is built the first
        time an engine lacks it."""
        argv = A.lock_create_args(name, labels)
        try:
            return self._run(argv, "lock session with", name).strip()
        except ImageMissing:
            self._build_lock_image()
            return self._run(argv, "lock session with", name).strip()

    def _build_lock_image(self) -> None:
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory(prefix="aifo-lock-") as context:
            (Path(context) / "Dockerfile").write_text(A.LOCK_DOCKERFILE)
            self._run(
                ["build", "-q", "-t", A.LOCK_IMAGE, context],
                "build image",
                A.LOCK_IMAGE,
                env={"DOCKER_BUILDKIT": "0"},
            )

    def remove_lock(self, ref: str) -> None:
        """`docker rm -f`; a missing lock is NotFound (the lock is no step of a transaction,
        so no `@mutating`: fault injection and journaling leave it alone)."""
        result = self.runner.call(["rm", "-f", ref], op="unlock session", obj=ref)
        if not result.ok or lines_of(result.stderr):
            raise translate("unlock session with", ref, result.returncode or 1, result.stderr)

    # -- networks ---------------------------------------------------------------------------
    def create_network(
        self,
        name: str,
        *,
        driver: str,
        internal: bool,
        subnet: str | None,
        labels: Mapping[str, str],
    ) -> str:
        argv = A.network_create_args(
            name, driver=driver, internal=internal, subnet=subnet, labels=labels
        )
        return self._run(argv, "create network", name).strip()

    def inspect_networks(self, refs: Sequence[str]) -> list[ObservedNetwork]:
        """One call; refs that don't exist are omitted (compare names/ids to find them)."""
        if not refs:
            return []
        result = self.runner.call(["network", "inspect", *refs], op="inspect", obj="networks")
        check_inspect(result, "inspect networks")
        return [parse.network(d) for d in parse.inspect_array(result.stdout)]

    def remove_network(self, ref: str) -> None:
        self._run(["network", "rm", ref], "remove network", ref)

    # -- volumes ----------------------------------------------------------------------------
    def create_volume(self, name: str, *, labels: Mapping[str, str]) -> None:
        self._run(A.volume_create_args(name, labels), "create volume", name)

    def remove_volume(self, name: str) -> None:
        self._run(["volume", "rm", name], "remove volume", name)

    # -- containers -------------------------------------------------------------------------
    def create_container(
        self,
        container: Container,
        *,
        name: str,
        labels: Mapping[str, str],
        networks: Sequence[str],
        volumes: Mapping[str, str],
    ) -> str:
        """Create on the first network (or `none`), connect the rest with the aliases. If a
        connect fails, the new container is removed again before the error is raised."""
        redact = [v.value for v in container.env if v.value]
        first = networks[0] if networks else None
        argv = A.create_args(container, name=name, labels=labels, network=first, volumes=volumes)
        cid = self._run(argv, "create container", name, redact=redact).strip()
        try:
            for net in networks[1:]:
                self._run(A.connect_args(net, cid, container.aliases), f"connect {name} to", net)
        except EngineError:
            self.runner.call(["rm", "-f", "-v", cid], op="remove container", obj=name)
            raise
        return cid

    def connect_network(self, network: str, ref: str, aliases: Sequence[str] = ()) -> None:
        self._run(A.connect_args(network, ref, aliases), f"connect {ref} to network", network)

    def disconnect_network(self, network: str, ref: str) -> None:
        self._run(["network", "disconnect", network, ref], f"disconnect {ref} from", network)

    def start_container(self, ref: str) -> None:
        self._run(["start", ref], "start container", ref)

    def start_containers(self, refs: Sequence[str]) -> None:
        """One `docker start A B C`; Docker tries each; raises if any failed."""
        if refs:
            self._run(["start", *refs], "start containers", ", ".join(refs))

    def stop_container(self, ref: str, *, timeout_s: float = 10.0) -> None:
        secs = str(max(0, round(timeout_s)))
        self._run(["stop", "-t", secs, ref], "stop container", ref, timeout_s=timeout_s + 60)

    def stop_containers(self, refs: Sequence[str], *, timeout_s: float = 10.0) -> None:
        if not refs:
            return
        secs = str(max(0, round(timeout_s)))
        result = self.runner.call(
            ["stop", "-t", secs, *refs], op="stop", obj="containers", timeout_s=timeout_s + 60
        )
        other = [line for line in lines_of(result.stderr) if not is_not_found(line)]
        if other:
            raise translate("stop containers", ", ".join(refs), result.returncode, "\n".join(other))

    def remove_container(self, ref: str) -> None:
        """Force-remove (with anonymous volumes); a missing container raises NotFound.
        (`docker rm -f` exits 0 for a missing container, so stderr decides.)"""
        result = self.runner.call(["rm", "-f", "-v", ref], op="remove container", obj=ref)
        if not result.ok or lines_of(result.stderr):
            raise translate("remove container", ref, result.returncode or 1, result.stderr)

    def remove_containers(self, refs: Sequence[str]) -> None:
        """One `docker rm -f -v A B C`: missing refs are ignored; any other failure raises
        (after Docker tried every ref)."""
        if not refs:
            return
        result = self.runner.call(["rm", "-f", "-v", *refs], op="remove", obj="containers")
        lines = [line for line in lines_of(result.stderr) if not is_not_found(line)]
        busy = [ref for ref in map(removal_in_progress, lines) if ref]
        other = [line for line in lines if not removal_in_progress(line)]
        if other:
            raise translate(
                "remove containers", ", ".join(refs), result.returncode, "\n".join(other)
            )
        self._await_removed(busy)

    def _await_removed(self, refs: Sequence[str], timeout_s: float = 60.0) -> None:
        """Containers another caller (an interrupted run, a concurrent `docker rm`) is already
        removing: done once they are gone. Polled, since Docker has no wait-for-removal call."""
        deadline = time.monotonic() + timeout_s
        left = list(refs)
        while left:
            left = [c.id for c in self.inspect_containers(left)]
            if left and time.monotonic() > deadline:
                raise EngineError(
                    f"remove containers {', '.join(r[:12] for r in left)}: still being removed "
                    f"after {timeout_s:.0f}s",
                    hint="check `docker ps -a` and the engine's log, then run the command again",
                )
            if left:
                time.sleep(0.1)

    def rename_container(self, ref: str, new_name: str) -> None:
        self._run(["rename", ref, new_name], "rename container", f"{ref} to {new_name}")

    def find_containers(self, refs: Sequence[str]) -> dict[str, ObservedContainer]:
        """One inspect call; maps each ref (id, id prefix or name) that exists to its container.
        Refs not in the result are missing."""
        out: dict[str, ObservedContainer] = {}
        for c in self.inspect_containers(refs):
            for ref in refs:
                if ref in (c.name, c.id) or (len(ref) >= 12 and c.id.startswith(ref)):
                    out[ref] = c
        return out

    def inspect_containers(self, refs: Sequence[str]) -> list[ObservedContainer]:
        """One `docker container inspect` call; refs that don't exist are omitted."""
        if not refs:
            return []
        result = self.runner.call(["container", "inspect", *refs], op="inspect", obj="containers")
        check_inspect(result, "inspect containers")
        return [parse.container(d) for d in parse.inspect_array(result.stdout)]

    def container_id(self, ref: str) -> str | None:
        """The id of the container named or id'd `ref`; None when there is none."""
        found = self.find_containers([ref])
        return found[ref].id if ref in found else None
