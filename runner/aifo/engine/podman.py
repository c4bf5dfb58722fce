"""`PodmanEngine`: the same `Engine` contract on Podman, through its Docker-compatible API.

Podman has no daemon; `podman system service` serves the API on a unix socket. aifo finds it
(`CONTAINER_HOST=unix://…`, else `/run/podman/podman.sock` as root, else
`$XDG_RUNTIME_DIR/podman/podman.sock`) or starts it on the first request, detached, exiting after
`SERVICE_IDLE_S` idle seconds. Where Podman's dialect differs from Docker's (docs/engine.md):

- rlimits: Podman gives containers nofile/nproc limits above what a sandbox's hard limits
  allow ("error setting rlimit type 6/7"), so every create passes `Ulimits` equal to the
  service's own hard limits (read from /proc for the socket's peer), else 1024;
- healthchecks run on systemd timers, absent without systemd: an inspect that finds a running
  container's health `starting` runs its check once through the libpod API (at most once per
  interval), so readiness waits make progress;
- the CLI (builds, pulls, exec, logs) is `podman`; images loaded from Docker are named
  `localhost/NAME:TAG`, which the API resolves from the short name the spec uses.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aifo.engine import podman_dialect
from aifo.engine.api import EngineFacts
from aifo.engine.socket_engine import SocketEngine
from aifo.engine.wire import Reply, Wire, ref
from aifo.errors import EngineError, EngineUnavailable
from aifo.model import LABEL_DOCTOR, LABEL_STAND_IN, Container
from aifo.model.observed import ObservedContainer, ObservedNetwork

SERVICE_IDLE_S = 600
SERVICE_START_S = 15.0
FALLBACK_LIMIT = 1024
TRANSIENT_ATTEMPTS = 4
_TRANSIENT = "no such network interface"
LIBPOD_VERSION = "v4.0.0"
HINT_PODMAN = "install podman (apt-get install podman catatonit), or check CONTAINER_HOST"


def socket_path(environ: Mapping[str, str]) -> str:
    host = environ.get("CONTAINER_HOST", "")
    if host.startswith("unix://"):
        return host[len("unix://") :]
    if os.geteuid() == 0:
        return "/run/podman/podman.sock"
    runtime = environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return f"{runtime}/podman/podman.sock"


def _hard_limits(pid: int | None) -> dict[str, int]:
    """`Max open files` and `Max processes` hard limits of a process, from /proc."""
    names = {"Max open files": "nofile", "Max processes": "nproc"}
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid or 'self'}/limits", encoding="ascii") as fh:
            for line in fh:
                for label, key in names.items():
                    if line.startswith(label):
                        hard = line[len(label) :].split()[1]
                        out[key] = int(hard) if hard.isdigit() else FALLBACK_LIMIT
    except (OSError, ValueError, IndexError):
        pass
    return out


class ServiceWire(Wire):
    """A `Wire` that starts `podman system service` when nothing answers on the socket."""

    def __init__(self, path: str, podman: str, *, timeout_s: float) -> None:
        super().__init__(path, timeout_s=timeout_s)
        self.podman = podman
        self._started = threading.Lock()

    def request(self, method: str, path: str, **kw: Any) -> Reply:
        try:
            return super().request(method, path, **kw)
        except EngineUnavailable:
            self.start_service()
            return super().request(method, path, **kw)

    def answers(self) -> bool:
        try:
            return Wire.request(self, "GET", "/_ping", timeout_s=2.0).ok
        except Exception:  # noqa: BLE001 - not (yet) answering, whatever the reason
            return False

    def start_service(self) -> None:
        with self._started:
            if self.answers():
                return  # another thread (or another aifo) started it meanwhile
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            argv = [self.podman, "system", "service", f"--time={SERVICE_IDLE_S}"]
            try:
                subprocess.Popen(
                    [*argv, f"unix://{self.path}"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # outlives this command; exits when idle
                    # Not the caller's folder: a service whose folder was removed since (a
                    # project, a temporary folder) fails every container start ("write child:
                    # broken pipe") until it is restarted.
                    cwd="/",
                )
            except OSError as exc:
                raise EngineUnavailable(
                    f"start the Podman API service: cannot run {self.podman!r}: "
                    f"{exc.strerror or exc}",
                    hint=HINT_PODMAN,
                ) from exc
            deadline = time.monotonic() + SERVICE_START_S
            while not self.answers():
                if time.monotonic() > deadline:
                    raise EngineUnavailable(
                        f"the Podman API service did not answer on {self.path} within "
                        f"{SERVICE_START_S:g} s",
                        hint=f"run `{self.podman} system service` by hand to see why",
                    )
                time.sleep(0.05)

    def peer_pid(self) -> int | None:
        """The pid of the process serving the socket (SO_PEERCRED), or None."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(2.0)
            sock.connect(self.path)
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            pid = int(struct.unpack("3i", creds)[0])
            return pid or None
        except OSError:
            return None
        finally:
            sock.close()


class PodmanEngine(SocketEngine):
    """Podman through its Docker-compatible API; `podman` for builds, pulls, exec and logs."""

    name = "podman"

    def __init__(
        self,
        socket_file: str,
        podman: str = "podman",
        *,
        timeout_s: float = 120.0,
        width: int = 8,
    ) -> None:
        super().__init__(socket_file, podman, timeout_s=timeout_s, width=width)
        self.wire = ServiceWire(socket_file, podman, timeout_s=timeout_s)
        # libpod's own endpoints refuse the compat API's version (v1.41) in their path
        self.libpod = Wire(socket_file, timeout_s=timeout_s, version=LIBPOD_VERSION)
        self._limits: dict[str, int] | None = None
        self._checked: dict[str, float] = {}  # container id -> when its check last ran here

    def ulimits(self) -> list[dict[str, Any]]:
        """nofile and nproc at the service's hard limits (what its containers may have)."""
        if self._limits is None:
            self.ping()  # the service runs (started if need be) before its pid is asked
            wire = self.wire
            found = _hard_limits(wire.peer_pid()) if isinstance(wire, ServiceWire) else {}
            self._limits = {k: found.get(k, FALLBACK_LIMIT) for k in ("nofile", "nproc")}
        return [{"Name": k, "Soft": v, "Hard": v} for k, v in sorted(self._limits.items())]

    def create_body(
        self,
        container: Container,
        *,
        labels: Mapping[str, str],
        network: str | None,
        volumes: Mapping[str, str],
    ) -> dict[str, Any]:
        data = super().create_body(container, labels=labels, network=network, volumes=volumes)
        data["HostConfig"]["Ulimits"] = self.ulimits()
        return data

    def create_network(
        self,
        name: str,
        *,
        driver: str,
        internal: bool,
        subnet: str | None,
        labels: Mapping[str, str],
    ) -> str:
        """Podman picks a free subnet by scanning the host's routes; a bridge of a network just
        removed can vanish mid-scan ("route ip+net: no such network interface"). Nothing was
        created then, so the create is tried again."""
        for attempt in range(TRANSIENT_ATTEMPTS):
            try:
                return super().create_network(
                    name, driver=driver, internal=internal, subnet=subnet, labels=labels
                )
            except EngineError as exc:
                if _TRANSIENT not in exc.message or attempt + 1 == TRANSIENT_ATTEMPTS:
                    raise
                time.sleep(0.1 * (attempt + 1))
        raise AssertionError("unreachable")

    def inspect_networks(self, refs: Sequence[str]) -> list[ObservedNetwork]:
        """The compat inspect, with the host side (bridge, DNS) from libpod's own inspect."""
        found = super().inspect_networks(refs)

        def host_side(net: ObservedNetwork) -> ObservedNetwork:
            reply = self.libpod.request("GET", f"/libpod/networks/{ref(net.id or net.name)}/json")
            data = self._found(reply, "inspect network", net.name) or {}
            bridge, dns = podman_dialect.network_host_side(data)
            return dataclasses.replace(net, bridge=bridge, host_dns=dns)

        results = self._each(host_side, found)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return [r for r in results if isinstance(r, ObservedNetwork)]

    # the bridge appears when the network's first container starts, not at create
    bridge_at_create = False

    def facts(self) -> EngineFacts:
        """What `aifo doctor` checks, over the API (python-on-whales reads Docker's CLI)."""
        import secrets

        try:
            info = self._call("GET", "/info", "read", "engine info")
            version = self._call("GET", "/version", "read", "engine version")
        except EngineError as exc:
            return EngineFacts(engine="Podman", error=exc.message)
        probe = f"aifo-doctor-{secrets.token_hex(4)}"
        internal: str | None = None
        guard: str | None = "no internal network to try it on"
        try:
            labels = {LABEL_DOCTOR: "true"}
            created = self.create_network(
                probe, driver="bridge", internal=True, subnet=None, labels=labels
            )
            try:
                found = self.inspect_networks([created or probe])
                guard = self.guard_probe(found[0] if found else None)
            finally:
                self.remove_network(created or probe)
        except EngineError as exc:
            internal = exc.message
        images = self._call(
            "GET", "/images/json", "list", "stand-in images",
            query={"filters": json.dumps({"label": [f"{LABEL_STAND_IN}=true"]})},
        )  # fmt: skip
        return EngineFacts(
            engine="Podman",
            server_version=str(version.get("Version") or "") or None,
            api_version=str(version.get("ApiVersion") or "") or None,
            os=str(info.get("OperatingSystem") or "") or None,
            storage_driver=str(info.get("Driver") or "") or None,
            security_options=tuple(str(o) for o in info.get("SecurityOptions") or ()),
            warnings=tuple(str(w) for w in info.get("Warnings") or ()),
            internal_network=internal,
            host_guard=guard,
            stand_in_images=len(images) if isinstance(images, list) else 0,
        )

    def dialect(self, data: dict[str, Any]) -> dict[str, Any]:
        return podman_dialect.to_docker(data)

    def inspect_containers(self, refs: Sequence[str]) -> list[ObservedContainer]:
        found = super().inspect_containers(refs)
        due = [c for c in found if self._health_due(c)]
        if not due:
            return found
        for c in due:
            self._checked[c.id] = time.monotonic()
        self._each(self._run_check, [c.id for c in due])
        return super().inspect_containers(refs)

    def _health_due(self, c: ObservedContainer) -> bool:
        if c.state != "running" or c.health != "starting":
            return False
        last = self._checked.get(c.id)
        return last is None or time.monotonic() - last >= 1.0

    def _run_check(self, cid: str) -> None:
        """Run a container's healthcheck once (what systemd's timer would do)."""
        self.wire.request("GET", f"/libpod/containers/{ref(cid)}/healthcheck")
