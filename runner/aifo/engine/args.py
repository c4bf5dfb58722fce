"""Pure builders of raw `docker` CLI arguments from the model. No I/O; unit-tested.

Secret environment variables never reach these argv lists: container config only gets the
non-secret ones; secrets are delivered at exec time through the CLI's own environment.
User-written positional values (images, names, build contexts) come after `--`, so none of them
can ever be read as a flag.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

from aifo.model import Build, Container, Healthcheck, Mount, Port


def _csv_field(text: str) -> str:
    """Quote one `--mount` field for the CLI's CSV parser when it holds `,` or `"`."""
    if "," in text or '"' in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def duration(seconds: float) -> str:
    """A Go duration string: 5.0 → `5000ms` (exact, never scientific notation)."""
    return f"{round(seconds * 1000)}ms"


def mount_arg(mount: Mount, volumes: Mapping[str, str]) -> str:
    """The `--mount` value. Volume sources are spec names, mapped to Docker names."""
    fields = [f"type={mount.kind}"]
    if mount.kind == "bind":
        fields.append(f"src={mount.source or ''}")
    elif mount.kind == "volume":
        source = mount.source or ""
        fields.append(f"src={volumes.get(source, source)}")
    fields.append(f"dst={mount.target}")
    if mount.read_only and mount.kind != "tmpfs":
        fields.append("readonly")
    if mount.kind == "tmpfs" and mount.tmpfs_size:
        fields.append(f"tmpfs-size={mount.tmpfs_size}")
    return ",".join(_csv_field(f) for f in fields)


TMPFS_OPTIONS = "rw,exec,nosuid,nodev,mode=1777"


def tmpfs_options(mount: Mount) -> str:
    """A tmpfs's mount options: executable (real tools run from /tmp and HOME), any uid may
    write. `--mount type=tmpfs` (and API `Mounts`) is always noexec before API 1.46, hence
    `--tmpfs` (API `HostConfig.Tmpfs`) with these options, on both transports."""
    size = f",size={mount.tmpfs_size}" if mount.tmpfs_size else ""
    return f"{TMPFS_OPTIONS}{size}"


def tmpfs_arg(mount: Mount) -> str:
    """The `--tmpfs` value."""
    return f"{mount.target}:{tmpfs_options(mount)}"


def port_arg(port: Port) -> str:
    """`ip:host:container/proto`; no host port → `ip::container` (Docker picks one)."""
    ip = f"[{port.host_ip}]" if ":" in port.host_ip else port.host_ip
    host = "" if port.host_port is None else str(port.host_port)
    prefix = f"{ip}:{host}:" if ip else (f"{host}:" if host else "")
    return f"{prefix}{port.container_port}/{port.protocol}"


def healthcheck_args(check: Healthcheck) -> list[str]:
    """`--health-*` flags. ("CMD", a, b) becomes the shell string `shlex.join((a, b))`: the CLI
    only takes a shell command, so exec form is quoted to run the same argv through /bin/sh."""
    kind, *rest = check.test or ("NONE",)
    if kind == "NONE":
        return ["--no-healthcheck"]
    cmd = rest[0] if kind == "CMD-SHELL" and len(rest) == 1 else shlex.join(rest)
    out = [
        "--health-cmd",
        cmd,
        "--health-interval",
        duration(check.interval_s),
        "--health-timeout",
        duration(check.timeout_s),
        "--health-retries",
        str(check.retries),
    ]
    if check.start_period_s > 0:
        out += ["--health-start-period", duration(check.start_period_s)]
    return out


def create_args(
    container: Container,
    *,
    name: str,
    labels: Mapping[str, str],
    network: str | None,
    volumes: Mapping[str, str],
) -> list[str]:
    """`docker create …` arguments (without `docker`). `network`: the first network, or None for
    network mode `none`. Aliases go with the first network; the caller connects the rest."""
    args = ["create", "--pull", "never", "--name", name]
    merged = {**dict(container.labels), **labels}
    for key in sorted(merged):
        args += ["--label", f"{key}={merged[key]}"]
    for var in container.env:
        if not var.secret:
            args += ["--env", f"{var.key}={var.value or ''}"]
    for mount in container.mounts:
        if mount.kind == "tmpfs":
            args += ["--tmpfs", tmpfs_arg(mount)]
        else:
            args += ["--mount", mount_arg(mount, volumes)]
    if network is None:
        args += ["--network", "none"]
    else:
        args += ["--network", network]
        for alias in container.aliases:
            args += ["--network-alias", alias]
    if container.process_user:
        args += ["--user", container.process_user]
    if container.working_dir:
        args += ["--workdir", container.working_dir]
    if container.hostname:
        args += ["--hostname", container.hostname]
    if container.memory_bytes is not None:
        args += ["--memory", str(container.memory_bytes)]
    if container.cpus is not None:
        args += ["--cpus", f"{container.cpus:g}"]
    if container.pids_limit is not None:
        args += ["--pids-limit", str(container.pids_limit)]
    for cap in container.cap_add:
        args += ["--cap-add", cap]
    for cap in container.cap_drop:
        args += ["--cap-drop", cap]
    if container.no_new_privileges:
        args += ["--security-opt", "no-new-privileges"]
    for opt in container.security_opt:
        args += ["--security-opt", opt]
    if container.read_only:
        args.append("--read-only")
    if container.privileged:
        args.append("--privileged")
    if container.init:
        args.append("--init")
    if container.restart and container.restart != "no":
        args += ["--restart", container.restart]
    if container.tty:
        args += ["-t", "-i"]
    if container.healthcheck is not None:
        args += healthcheck_args(container.healthcheck)
    for port in container.ports:
        args += ["-p", port_arg(port)]
    command = list(container.command or ())
    if container.entrypoint is not None:
        first, *rest = container.entrypoint or ("",)
        args += ["--entrypoint", first]
        command = [*rest, *command]
    args += ["--", container.image]
    args += command
    return args


def connect_args(network: str, ref: str, aliases: Sequence[str]) -> list[str]:
    args = ["network", "connect"]
    for alias in aliases:
        args += ["--alias", alias]
    return [*args, "--", network, ref]


def network_create_args(
    name: str, *, driver: str, internal: bool, subnet: str | None, labels: Mapping[str, str]
) -> list[str]:
    args = ["network", "create", "--driver", driver]
    if internal:
        args.append("--internal")
    if subnet:
        args += ["--subnet", subnet]
    for key in sorted(labels):
        args += ["--label", f"{key}={labels[key]}"]
    return [*args, "--", name]


def volume_create_args(name: str, labels: Mapping[str, str]) -> list[str]:
    args = ["volume", "create"]
    for key in sorted(labels):
        args += ["--label", f"{key}={labels[key]}"]
    return [*args, "--", name]


def build_args(
    ref: str,
    build: Build,
    labels: Mapping[str, str],
    *,
    buildx: bool,
    dockerfile: str | None = None,
) -> list[str]:
    """Build arguments. Build-arg values are not on argv: `--build-arg KEY` makes the CLI read
    them from its environment, which the caller fills from `build.args`. `dockerfile`: a
    rewritten Dockerfile to use instead of the build's own (trust_host_cas)."""
    # Plain, streamed output (engine/build.py reads the steps); the legacy builder keeps a
    # failed step's container unless told not to.
    args = ["buildx", "build", "--load", "--progress=plain"] if buildx else ["build", "--force-rm"]
    args += ["-t", ref]
    for key in sorted(labels):
        args += ["--label", f"{key}={labels[key]}"]
    if dockerfile:
        args += ["-f", dockerfile]
    elif build.dockerfile:
        args += ["-f", f"{build.context.rstrip('/')}/{build.dockerfile}"]
    for key, _ in build.args:
        args += ["--build-arg", key]
    if build.target:
        args += ["--target", build.target]
    return [*args, "--", build.context]


def exec_args(
    ref: str,
    argv: Sequence[str],
    *,
    user: str | None,
    workdir: str | None,
    env_keys: Sequence[str],
    interactive: bool,
    tty: bool,
) -> list[str]:
    """`docker exec` arguments; env is passed by key only (values come from the environment)."""
    args = ["exec"]
    if interactive:
        args.append("-i")
    if tty:
        args.append("-t")
    if user:
        args += ["--user", user]
    if workdir:
        args += ["--workdir", workdir]
    for key in env_keys:
        args += ["--env", key]
    return [*args, "--", ref, *argv]


LOCK_IMAGE = "aifo-session-lock:1"  # built locally, FROM scratch: nothing to pull, nothing runs
LOCK_DOCKERFILE = 'FROM scratch\nLABEL io.aifo.lock-image="true"\nCMD ["aifo-session-lock"]\n'


def lock_create_args(name: str, labels: Mapping[str, str]) -> list[str]:
    """`docker create` of a session lock: never started, no network, nothing to run."""
    args = ["create", "--pull", "never", "--name", name, "--network", "none"]
    for key in sorted(labels):
        args += ["--label", f"{key}={labels[key]}"]
    return [*args, LOCK_IMAGE]
