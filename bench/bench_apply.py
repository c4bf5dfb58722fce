"""Benchmark: aifo apply / no-op apply / destroy against the engine's floor, docker-compose and
raw `docker run`.

Same run, same machine, same workload: N busybox containers (`sleep` under init, all
capabilities dropped, no-new-privileges, a pids limit, a read-only root with a tmpfs on /tmp:
what aifo's secure defaults make) on one internal network. The peers take turns within each
repetition (aifo, floor, compose, docker run; the next repetition starts one peer further), so
load drifting on a shared machine hits them alike. Prints wall-clock seconds (median of
--repeat runs) and the ratios issue 17 targets (and, for the floor, each round's own ratio:
robust to load drift):

    cold apply  <= 1.10 x the engine floor at 10 containers, <= 1.05 x from 50; <= 0.9 x compose
    no-op apply <= 0.3  x compose no-op `up -d`
    destroy     <= 0.8  x compose `down` (aifo and compose stop gracefully; the floor force-removes)

The engine floor: the same containers created and started through the Engine API on the unix
socket, 8 requests in flight, no CLI process and no checks: what the engine itself costs.

Run after `scripts/ensure-docker` and `scripts/seed-images`:

    .venv/bin/python bench/bench_apply.py --sizes 10 50 200 --repeat 5
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

IMAGE = "aifo-test/busybox:latest"
COMPOSE_TARGETS = {"apply": 0.9, "noop": 0.3, "destroy": 0.8}
PIDS_LIMIT = 4096  # aifo's default, given to every peer
# aifo's default read-only root and writable /tmp (compile), given to every peer: the same
# containers, so the ratios compare the tools, not what they ask the engine for
TMPFS = "/tmp:rw,exec,nosuid,nodev,mode=1777"


def sh(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    """Run a peer's command quietly; its output is shown only when it fails."""
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise subprocess.CalledProcessError(done.returncode, argv)


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def aifo_spec(session: str, n: int) -> str:
    lines = [
        "version: 1",
        f"session: {session}",
        "networks:",
        "  net: {internal: true}",
        "services:",
    ]
    for i in range(n):
        lines += [
            f"  c{i}:",
            f"    image: {IMAGE}",
            "    pull: never",
            '    command: ["sleep", "3600"]',
            "    networks: [net]",
        ]
    return "\n".join(lines) + "\n"


def compose_file(n: int) -> str:
    lines = [
        'version: "2.4"',
        "networks:",
        "  net: {internal: true}",
        "services:",
    ]
    for i in range(n):
        lines += [
            f"  c{i}:",
            f"    image: {IMAGE}",
            '    command: ["sleep", "3600"]',
            "    init: true",
            "    cap_drop: [ALL]",
            "    security_opt: [no-new-privileges]",
            f"    pids_limit: {PIDS_LIMIT}",
            "    read_only: true",
            f'    tmpfs: ["{TMPFS}"]',
            "    networks: [net]",
        ]
    return "\n".join(lines) + "\n"


class Peer:
    name = ""

    def apply(self) -> None: ...
    def noop(self) -> None: ...
    def destroy(self) -> None: ...


class Aifo(Peer):
    name = "aifo"

    def __init__(self, work: Path, n: int) -> None:
        self.spec = work / "aifo.yaml"
        self.n = n
        # a fresh session per run: never one a daemon bug left half-removed (docs/engine.md)
        self.session = f"bench{n}-{os.getpid()}"
        self.spec.write_text(aifo_spec(self.session, n))
        self.aifo = str(Path(sys.executable).with_name("aifo"))
        self.env = {**os.environ, "AIFO_STATE_DIR": str(work / "state")}

    def apply(self) -> None:
        sh(self.aifo, "apply", str(self.spec), "--yes", env=self.env)

    noop = apply

    def destroy(self) -> None:
        argv = (self.aifo, "destroy", str(self.spec), "--yes")
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True)
        if done.returncode == 0:
            return
        if "has active endpoints" not in done.stderr:
            sys.stderr.write(done.stdout + done.stderr)
            raise subprocess.CalledProcessError(done.returncode, argv)
        # Docker 20.10 leaked an endpoint (docs/engine.md): the network stays until the daemon
        # restarts; the next rounds use a new session, so each apply still creates its network
        print(f"warning: {done.stderr.strip().splitlines()[-1]}", file=sys.stderr)
        self.session += "x"
        self.spec.write_text(aifo_spec(self.session, self.n))


class Compose(Peer):
    name = "compose"

    def __init__(self, work: Path, n: int) -> None:
        self.dir = work / "compose"
        self.dir.mkdir()
        (self.dir / "docker-compose.yml").write_text(compose_file(n))
        self.base = ("docker-compose", "-p", f"aifobench{n}-{os.getpid()}")

    def apply(self) -> None:
        sh(*self.base, "up", "-d", "--quiet-pull", cwd=self.dir)

    noop = apply

    def destroy(self) -> None:
        argv = (*self.base, "down")
        done = subprocess.run(argv, cwd=self.dir, capture_output=True, text=True)
        if done.returncode == 0:
            return
        if "has active endpoints" not in done.stdout + done.stderr:
            sys.stderr.write(done.stdout + done.stderr)
            raise subprocess.CalledProcessError(done.returncode, argv)
        # Docker 20.10 leaked an endpoint, as in Aifo.destroy: the next rounds use a new project
        print("warning: compose down: network has active endpoints", file=sys.stderr)
        self.base = (*self.base[:-1], self.base[-1] + "x")


class RawRun(Peer):
    """Raw parallel `docker run`: the floor any CLI-driven tool pays (no state, no checks)."""

    name = "docker run"

    def __init__(self, work: Path, n: int) -> None:
        self.n = n
        self.net = f"aifobench-raw{n}"
        self.names = [f"aifobench-raw{n}-c{i}" for i in range(n)]

    def apply(self) -> None:
        sh("docker", "network", "create", "--internal", self.net)
        run = (
            f"docker run -d --init --cap-drop ALL --security-opt no-new-privileges "
            f"--pids-limit {PIDS_LIMIT} --read-only --tmpfs {TMPFS} "
            f"--network {self.net} --name {{}} {IMAGE} sleep 3600"
        )
        subprocess.run(
            ["xargs", "-P", "8", "-I{}", "sh", "-c", run + " >/dev/null"],
            input="\n".join(self.names),
            text=True,
            check=True,
        )

    def noop(self) -> None:  # raw docker has no idempotent apply; not measured
        raise NotImplementedError

    def destroy(self) -> None:
        sh("docker", "rm", "-f", *self.names)
        sh("docker", "network", "rm", self.net)


class _Unix(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=300)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def api(method: str, path: str, body: Any = None) -> Any:
    """One Engine API request on the docker socket; raise unless it succeeded."""
    conn = _Unix(os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")[len("unix://") :])
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, "/v1.41" + path, body=data, headers=headers)
        reply = conn.getresponse()
        raw = reply.read()
        if reply.status >= 400:
            raise RuntimeError(f"{method} {path}: {reply.status} {raw.decode(errors='replace')}")
        return json.loads(raw) if raw else None
    finally:
        conn.close()


class Floor(Peer):
    """The engine's floor: the same containers created and started through the Engine API on
    its socket, 8 at a time, each create carrying its full network config; no CLI, no checks.
    Destroy force-removes (8 at a time), then removes the network."""

    name = "engine floor"

    def __init__(self, work: Path, n: int) -> None:
        tag = f"aifobench-floor{n}-{os.getpid()}"  # a fresh name per run: never a leftover's
        self.net = tag
        self.names = [f"{tag}-c{i}" for i in range(n)]
        self.pool = ThreadPoolExecutor(max_workers=8)

    def _one(self, name: str) -> None:
        config = {
            "Image": IMAGE,
            "Cmd": ["sleep", "3600"],
            "Labels": {"io.aifo.bench": "floor"},
            "HostConfig": {
                "NetworkMode": self.net,
                "Init": True,
                "CapDrop": ["ALL"],
                "SecurityOpt": ["no-new-privileges"],
                "PidsLimit": PIDS_LIMIT,
                "ReadonlyRootfs": True,
                "Tmpfs": dict([TMPFS.split(":", 1)]),
            },
            "NetworkingConfig": {"EndpointsConfig": {self.net: {"Aliases": [name]}}},
        }
        created = api("POST", f"/containers/create?name={name}", config)
        api("POST", f"/containers/{created['Id']}/start")

    def apply(self) -> None:
        api(
            "POST", "/networks/create", {"Name": self.net, "Internal": True, "CheckDuplicate": True}
        )
        list(self.pool.map(self._one, self.names))

    def noop(self) -> None:  # nothing to compare: the floor has no idempotent apply
        raise NotImplementedError

    def destroy(self) -> None:
        def remove(name: str) -> None:
            with contextlib.suppress(RuntimeError):  # absent after a failed apply
                api("DELETE", f"/containers/{name}?force=1")

        list(self.pool.map(remove, self.names))
        for attempt in range(50):  # an endpoint may still be going away
            try:
                api("DELETE", f"/networks/{self.net}")
                return
            except RuntimeError as exc:
                if " 404 " in str(exc):
                    return
                if attempt == 49:  # Docker 20.10 leaked an endpoint (docs/engine.md)
                    # the network stays until the daemon restarts: the next rounds use a new
                    # one, so each apply still creates its network (as Aifo.destroy does)
                    print(f"warning: {exc}", file=sys.stderr)
                    self.net += "x"
                    return
                time.sleep(0.1)


def measure_round(peer: Peer, runs: dict[str, list[float]], noop: bool) -> None:
    try:
        runs["apply"].append(timed(peer.apply))
        if noop:
            runs["noop"].append(timed(peer.noop))
    except BaseException:  # interrupted or failed: leave no benchmark objects behind
        with contextlib.suppress(Exception):
            peer.destroy()
        raise
    runs["destroy"].append(timed(peer.destroy))


Runs = dict[str, dict[str, list[float]]]  # peer -> phase -> seconds, one per repetition


def measure(peers: list[tuple[Peer, bool]], repeat: int) -> Runs:
    """Each repetition runs every peer once, in turn, starting one peer further each time (no
    peer always follows the same one)."""
    runs: Runs = {p.name: {"apply": [], "noop": [], "destroy": []} for p, _ in peers}
    for i in range(repeat):
        turn = i % len(peers)
        for peer, noop in peers[turn:] + peers[:turn]:
            measure_round(peer, runs[peer.name], noop)
    return runs


def medians(runs: Runs) -> dict[str, dict[str, float]]:
    return {
        name: {k: statistics.median(v) for k, v in phases.items() if v}
        for name, phases in runs.items()
    }


def floor_target(n: int) -> float:
    return 1.10 if n < 50 else 1.05


def byte_compile() -> None:
    """Byte-compile the runner package, as installing the wheel does: an editable checkout run
    with PYTHONDONTWRITEBYTECODE set (as on these machines) would otherwise recompile every
    changed module in every timed `aifo` process."""
    import compileall

    import aifo

    compileall.compile_dir(str(Path(aifo.__file__).parent), quiet=1)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--no-docker-run", action="store_true", help="skip the raw `docker run` peer"
    )
    parser.add_argument(
        "--no-compose",
        action="store_true",
        help="skip docker-compose (at 200 containers one `up` takes minutes here)",
    )
    args = parser.parse_args()
    # a terminated run unwinds (and cleans up) like Ctrl-C
    signal.signal(signal.SIGTERM, _interrupt)
    byte_compile()
    if shutil.which("docker-compose") is None:
        print("docker-compose is missing: run scripts/ensure-docker", file=sys.stderr)
        return 2
    failed = False
    phases = ("apply", "noop", "destroy")
    for n in args.sizes:
        with tempfile.TemporaryDirectory(prefix="aifo-bench-") as tmp:
            work = Path(tmp)
            peers: list[tuple[Peer, bool]] = [
                (Aifo(work, n), True),
                (Floor(work, n), False),
            ]
            if not args.no_compose:
                peers.append((Compose(work, n), True))
            if not args.no_docker_run:
                peers.append((RawRun(work, n), False))
            runs = measure(peers, args.repeat)
        results = medians(runs)
        print(f"\n{n} containers, median of {args.repeat} alternating runs (seconds)")
        print(f"{'':14}{'apply':>10}{'no-op':>10}{'destroy':>10}")
        for name, r in results.items():
            cells = "".join(f"{r[k]:>10.2f}" if k in r else f"{'-':>10}" for k in phases)
            print(f"{name:14}{cells}")
        aifo, floor = results["aifo"], results["engine floor"]
        checks = [("apply", "engine floor", aifo["apply"] / floor["apply"], floor_target(n))]
        for phase, target in COMPOSE_TARGETS.items():
            if "compose" in results:
                checks.append((phase, "compose", aifo[phase] / results["compose"][phase], target))
        for phase, peer, ratio, target in checks:
            verdict = "ok" if ratio <= target else "MISSED"
            failed |= ratio > target
            print(f"  {phase:8} aifo/{peer:13} = {ratio:.2f}  (target <= {target})  {verdict}")
        print(
            f"  {'destroy':8} aifo/{'engine floor':13} = {aifo['destroy'] / floor['destroy']:.2f}"
        )
        # the spread, and each round's own ratio (both runs close in time: robust to load drift)
        for name in ("aifo", "engine floor"):
            print(f"  apply runs, {name}: " + " ".join(f"{t:.2f}" for t in runs[name]["apply"]))
        pairs = zip(runs["aifo"]["apply"], runs["engine floor"]["apply"], strict=True)
        rounds = [a / f for a, f in pairs]
        print(
            f"  apply    aifo/engine floor per round: {' '.join(f'{r:.2f}' for r in rounds)}"
            f" (median {statistics.median(rounds):.2f})"
        )
        if "docker run" in results:
            for phase in ("apply", "destroy"):  # the floor of any docker-CLI-driven tool
                raw = aifo[phase] / results["docker run"][phase]
                print(f"  {phase:8} aifo/{'docker run':13} = {raw:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
