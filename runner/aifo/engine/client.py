"""`DockerEngine`: the `aifo.engine.api.Engine` contract over the raw `docker` CLI.

The hot path (observe, inspect, create/start/stop/remove/rename, networks, volumes) goes through
`aifo.engine.run.Runner`, a bare subprocess call: python-on-whales costs ~0.25 s to import,
which is the whole budget of a no-op apply. It is used only for `info()`, off the hot path.
See docs/engine.md.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, Any

from aifo.engine import args as A
from aifo.engine import parse, process
from aifo.engine.api import EngineFacts, Labelled, OnStep, SessionSummary, Want
from aifo.engine.run import Result, Runner
from aifo.engine.translate import is_not_found, lines_of, removal_in_progress, translate
from aifo.errors import EngineError, ImageMissing, NotFound
from aifo.model import (
    LABEL_DEPENDS,
    LABEL_RESOURCE,
    LABEL_SESSION,
    LOCK_RESOURCE,
    Build,
    Container,
    is_lock,
)
from aifo.observed import ObservedContainer, ObservedNetwork, Snapshot

_SESSION, _RESOURCE, _DEPENDS = (
    f'{{{{.Label "{key}"}}}}' for key in (LABEL_SESSION, LABEL_RESOURCE, LABEL_DEPENDS)
)
_PS = [
    "ps", "-a", "--no-trunc", "--format",
    f"{{{{.ID}}}}\t{{{{.Names}}}}\t{_SESSION}\t{_RESOURCE}\t{_DEPENDS}",
]  # fmt: skip
_NET_LS = ["network", "ls", "--no-trunc", "--format", f"{{{{.ID}}}}\t{{{{.Name}}}}\t{_SESSION}"]
_VOL_LS = ["volume", "ls", "--format", f"{{{{.Name}}}}\t{_SESSION}"]


def _check_inspect(result: Result, op: str) -> None:
    """Inspect of several refs: missing ones are fine (partial output), anything else raises."""
    if result.ok:
        return
    other = [line for line in lines_of(result.stderr) if not is_not_found(line)]
    if other or not lines_of(result.stderr):
        raise translate(op, "", result.returncode, "\n".join(other) or result.stderr)


def _depends(rows: Iterable[parse.Listed]) -> dict[str, tuple[str, ...]]:
    """Container name -> names of the containers its `io.aifo.depends-on` label names (by
    resource id); dependencies that are gone or not this session's are left out."""
    listed = list(rows)
    by_rid = {r.extra[0]: r.name for r in listed if r.extra and r.extra[0]}
    out: dict[str, tuple[str, ...]] = {}
    for r in listed:
        needs = r.extra[1].split(",") if len(r.extra) > 1 and r.extra[1] else []
        out[r.name] = tuple(by_rid[rid] for rid in needs if rid in by_rid)
    return out


class DockerEngine:
    """The Docker adapter. `calls` counts `docker` CLI invocations (for batching assertions)."""

    def __init__(self, docker: str = "docker", *, timeout_s: float = 120.0) -> None:
        self.runner = Runner(docker, timeout_s=timeout_s)
        self._buildx: bool | None = None

    @property
    def calls(self) -> int:
        return self.runner.calls

    def _run(self, args: Sequence[str], op: str, obj: str, **kw: Any) -> str:
        return self.runner.run(args, op=op, obj=obj, **kw)

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
        try:
            created = self.create_network(
                probe,
                driver="bridge",
                internal=True,
                subnet=None,
                labels={"io.aifo.doctor": "true"},
            )
            self.remove_network(created or probe)
        except EngineError as exc:
            internal = exc.message
        stand_ins = self.runner.call(
            ["image", "ls", "-q", "--filter", "label=io.aifo.stand-in=true"],
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
            stand_in_images=len(set(stand_ins.stdout.split())) if stand_ins.ok else 0,
        )

    def sessions(self) -> list[SessionSummary]:
        """Every session with objects on this engine, by the `io.aifo.session` label."""
        label = ["--filter", f"label={LABEL_SESSION}"]
        session = _SESSION
        results = self.runner.run_many(
            [
                ["ps", "-a", *label, "--format", f"{session}\t{{{{.State}}}}\t{_RESOURCE}"],
                ["network", "ls", *label, "--format", session],
                ["volume", "ls", *label, "--format", session],
            ],
            op="list sessions",
        )
        for result in results:
            if not result.ok:
                raise translate("list", "sessions", result.returncode, result.stderr)
        counts: dict[str, dict[str, int]] = {}

        def bump(name: str, key: str) -> None:
            if name:
                row = counts.setdefault(name, {})
                row[key] = row.get(key, 0) + 1

        for line in results[0].stdout.splitlines():
            name, state, resource = (line.split("\t") + ["", ""])[:3]
            if resource.strip() == LOCK_RESOURCE:
                continue  # the session lock is not an object of the session
            bump(name, "containers")
            if state.strip() == "running":
                bump(name, "running")
        for key, result in (("networks", results[1]), ("volumes", results[2])):
            for line in result.stdout.splitlines():
                bump(line.strip(), key)
        return [SessionSummary(name, **counts[name]) for name in sorted(counts)]

    # -- observe ----------------------------------------------------------------------------
    def labelled(self, session: str) -> Labelled:
        rows, _ = self._list_all(session)
        rows[0] = parse.without_locks(rows[0])
        mine = [{r.name: r.id for r in listed if r.session == session} for listed in rows]
        return Labelled(
            mine[0], mine[1], mine[2], _depends(r for r in rows[0] if r.session == session)
        )

    def _list_all(
        self, session: str, *extra: list[str]
    ) -> tuple[list[list[parse.Listed]], list[Result]]:
        """Containers, networks and volumes listed in parallel, with `extra` calls (their
        results returned unchecked)."""
        results = self.runner.run_many([_PS, _NET_LS, _VOL_LS, *extra], op="observe")
        for result in results[:3]:
            if not result.ok:
                raise translate("observe session", session, result.returncode, result.stderr)
        return [parse.listing(r.stdout) for r in results[:3]], results[3:]

    def observe(self, session: str, want: Want) -> Snapshot:
        """Two rounds of parallel CLI calls: list all three kinds (+ inspect images), then one
        inspect per kind for the ids that are ours or carry a wanted name. ≤ 7 calls in all."""
        images = list(dict.fromkeys(want.images))
        extra = [["image", "inspect", "--", *images]] if images else []
        rows, image_results = self._list_all(session, *extra)

        c_names = set(want.containers)
        n_names = set(want.networks) | set(want.external_networks)
        v_names = set(want.volumes) | set(want.external_volumes)

        def pick(listed: list[parse.Listed], names: set[str]) -> list[str]:
            return [r.id for r in listed if r.session == session or r.name in names]

        rows[0] = parse.without_locks(rows[0])

        ids = [pick(rows[0], c_names), pick(rows[1], n_names), pick(rows[2], v_names)]
        kinds = (["container", "inspect"], ["network", "inspect"], ["volume", "inspect"])
        second = [[*kind, *refs] for kind, refs in zip(kinds, ids, strict=True) if refs]
        inspected = iter(self.runner.run_many(second, op="observe") if second else [])
        data: list[list[parse.Json]] = []
        for refs in ids:
            if not refs:
                data.append([])
                continue
            result = next(inspected)
            _check_inspect(result, f"observe session {session}")
            data.append(parse.inspect_array(result.stdout))

        snap = Snapshot(session=session)
        for c in map(parse.container, data[0]):
            if is_lock(c.labels):
                continue  # the session lock (aifo.apply.enginelock), never a resource
            if c.labels.get(LABEL_SESSION) == session:
                snap.containers[c.name] = c
            elif c.name in c_names:
                snap.foreign_containers[c.name] = c
        for n in map(parse.network, data[1]):
            if n.name in want.external_networks:
                snap.external_networks[n.name] = n
            elif n.labels.get(LABEL_SESSION) == session:
                snap.networks[n.name] = n
            elif n.name in n_names:
                snap.foreign_networks[n.name] = n
        for v in map(parse.volume, data[2]):
            if v.name in want.external_volumes:
                snap.external_volumes[v.name] = v
            elif v.labels.get(LABEL_SESSION) == session:
                snap.volumes[v.name] = v
            elif v.name in v_names:
                snap.foreign_volumes[v.name] = v
        if images:
            result = image_results[0]
            _check_inspect(result, "inspect images")
            found = parse.inspect_array(result.stdout)
            snap.images.update(parse.match_images(images, found, parse.missing_refs(result.stderr)))
        return snap

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
        """Through the CLI in every adapter, like `create_lock`: the lock is no step of a
        transaction (nor of its request-level fault injection)."""
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
        _check_inspect(result, "inspect networks")
        return [parse.network(d) for d in parse.inspect_array(result.stdout)]

    def remove_network(self, ref: str) -> None:
        self._run(["network", "rm", ref], "remove network", ref)

    # -- volumes ----------------------------------------------------------------------------
    def create_volume(self, name: str, *, labels: Mapping[str, str]) -> None:
        self._run(A.volume_create_args(name, labels), "create volume", name)

    def remove_volume(self, name: str) -> None:
        self._run(["volume", "rm", name], "remove volume", name)

    # -- images -----------------------------------------------------------------------------
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
        _check_inspect(result, "inspect containers")
        return [parse.container(d) for d in parse.inspect_array(result.stdout)]

    # -- exec / logs ------------------------------------------------------------------------
    def exec(
        self,
        ref: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        tty: bool = False,
        interactive: bool = False,
    ) -> int:
        """Attached to our stdio; the exit code is the command's (126/127: not runnable; a
        docker-side failure such as a missing container also exits non-zero)."""
        env = dict(env or {})
        args = A.exec_args(
            ref, argv, user=user, workdir=workdir, env_keys=sorted(env),
            interactive=interactive, tty=tty,
        )  # fmt: skip
        self.runner._count()
        try:
            proc = subprocess.run([self.runner.docker, *args], env=self.runner.environ(env))
        except OSError as exc:
            raise self.runner._unavailable("exec in", ref, exc) from exc
        return proc.returncode

    def exec_start(
        self,
        ref: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        tty: bool = False,
        interactive: bool = False,
        pipes: bool = False,
        own_group: bool = False,
        size: tuple[int, int] | None = None,
    ) -> process.ExecProcess:
        """The exec as a process the caller drives (aifo.engine.process.start)."""
        # The CLI can't give a terminal to a process whose stdin is a pipe: pipes win.
        return process.start(
            self.runner, ref, argv, user=user, workdir=workdir, env=dict(env or {}),
            tty=tty and not pipes, interactive=interactive, pipes=pipes, own_group=own_group,
        )  # fmt: skip

    def signal_marked(
        self, ref: str, marker: str, signal: str, *, user: str | None = None, timeout_s: float = 30
    ) -> int:
        """Signal every process in `ref` whose environment holds `marker` (a KEY=value prefix)."""
        return process.signal_marked(
            self.runner, ref, marker, signal, user=user, timeout_s=timeout_s
        )

    def exec_capture(
        self,
        ref: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> tuple[int, str]:
        """Non-interactive, stdout+stderr captured together. A missing or stopped container
        raises (NotFound / EngineError) instead of returning the CLI's exit code."""
        env = dict(env or {})
        args = A.exec_args(
            ref, argv, user=user, workdir=workdir, env_keys=sorted(env),
            interactive=False, tty=False,
        )  # fmt: skip
        self.runner._count()
        try:
            proc = subprocess.run(
                [self.runner.docker, *args],
                env=self.runner.environ(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired as exc:
            raise EngineError(f"exec in {ref}: no exit within {timeout_s:g} s") from exc
        except OSError as exc:
            raise self.runner._unavailable("exec in", ref, exc) from exc
        output = proc.stdout
        head = output.lstrip().splitlines()[0] if output.strip() else ""
        if proc.returncode in (1, 126, 127) and head.startswith("Error response from daemon:"):
            err = translate("exec in", ref, proc.returncode, head, redact=env.values())
            raise err if isinstance(err, NotFound) else EngineError(err.message)
        return proc.returncode, output

    def container_id(self, ref: str) -> str | None:
        """The id of the container named or id'd `ref`; None when there is none."""
        found = self.find_containers([ref])
        return found[ref].id if ref in found else None

    def log_tail(self, ref: str, *, lines: int = 20) -> str:
        """The last `lines` lines a container wrote (stdout, then stderr), for error reports."""
        result = self.runner.call(
            ["logs", "--tail", str(lines), ref], op="read the logs of", obj=ref
        )
        if not result.ok:
            raise translate("read the logs of", ref, result.returncode, result.stderr)
        return "\n".join(part.strip() for part in (result.stdout, result.stderr) if part.strip())

    def log_lines(self, ref: str, *, since: str | None = None) -> list[tuple[str, str]]:
        """A container's stdout (not stderr) as (Docker's RFC 3339 timestamp, line), oldest
        first; `since`: only from that timestamp on (inclusive)."""
        args = ["logs", "--timestamps", *(["--since", since] if since else []), ref]
        out = self._run(args, "read the logs of", ref)
        lines: list[tuple[str, str]] = []
        for line in out.splitlines():
            stamp, _, text = line.partition(" ")
            lines.append((stamp, text))
        return lines

    def logs(
        self,
        refs: Sequence[str],
        *,
        write: Callable[[bytes], None],
        follow: bool = False,
        tail: int | None = None,
    ) -> int:
        """One container: the CLI attached to our stdio. Several: one CLI per container, each
        line prefixed `name | ` and handed to `write`; returns the first non-zero exit code."""
        base = ["logs", *(["--follow"] if follow else [])]
        if tail is not None:
            base += ["--tail", str(tail)]
        if len(refs) == 1:
            self.runner._count()
            return subprocess.run([self.runner.docker, *base, refs[0]]).returncode
        width = max((len(r) for r in refs), default=0)
        lock = threading.Lock()
        procs: list[subprocess.Popen[bytes]] = []
        threads: list[threading.Thread] = []

        def pump(prefix: bytes, stream: IO[bytes]) -> None:
            for line in iter(stream.readline, b""):
                with lock:
                    write(prefix + line)

        self.runner._count(len(refs))
        try:
            for ref in refs:
                proc = subprocess.Popen(
                    [self.runner.docker, *base, ref],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
                procs.append(proc)
                assert proc.stdout is not None
                prefix = f"{ref.ljust(width)} | ".encode()
                thread = threading.Thread(target=pump, args=(prefix, proc.stdout), daemon=True)
                thread.start()
                threads.append(thread)
            codes = [proc.wait() for proc in procs]
            for thread in threads:
                thread.join()
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait()
        return next((c for c in codes if c), 0)
