"""Benchmark: aifo apply / no-op apply / destroy against docker-compose and raw `docker run`.

Same run, same machine, same workload: N busybox containers (`sleep` under init) on one internal
network. Prints wall-clock seconds (median of --repeat runs) and the ratios the issue targets:

    cold apply  <= 0.75 x compose `up -d`
    no-op apply <= 0.5  x compose no-op `up -d`
    destroy     <= 0.6  x compose `down`

Run after `scripts/ensure-docker` and `scripts/seed-images`:

    .venv/bin/python bench/bench_apply.py --sizes 10 50 --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

IMAGE = "aifo-test/busybox:latest"
TARGETS = {"apply": 0.75, "noop": 0.5, "destroy": 0.6}


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
        self.spec.write_text(aifo_spec(f"bench{n}", n))
        self.aifo = str(Path(sys.executable).with_name("aifo"))
        self.env = {**os.environ, "AIFO_STATE_DIR": str(work / "state")}

    def apply(self) -> None:
        sh(self.aifo, "apply", str(self.spec), "--yes", env=self.env)

    noop = apply

    def destroy(self) -> None:
        sh(self.aifo, "destroy", str(self.spec), "--yes", env=self.env)


class Compose(Peer):
    name = "compose"

    def __init__(self, work: Path, n: int) -> None:
        self.dir = work / "compose"
        self.dir.mkdir()
        (self.dir / "docker-compose.yml").write_text(compose_file(n))
        self.base = ("docker-compose", "-p", f"aifobench{n}")

    def apply(self) -> None:
        sh(*self.base, "up", "-d", "--quiet-pull", cwd=self.dir)

    noop = apply

    def destroy(self) -> None:
        sh(*self.base, "down", cwd=self.dir)


class RawRun(Peer):
    """Raw parallel `docker run`: the floor any CLI-driven tool pays (no state, no checks)."""

    name = "docker run"

    def __init__(self, work: Path, n: int) -> None:
        self.n = n
        self.net = f"aifobench-raw{n}"
        self.names = [f"aifobench-raw{n}-c{i}" for i in range(n)]

    def apply(self) -> None:
        sh("docker", "network", "create", "--internal", self.net)
        run = f"docker run -d --init --network {self.net} --name {{}} {IMAGE} sleep 3600"
        subprocess.run(
            ["xargs", "-P", "4", "-I{}", "sh", "-c", run + " >/dev/null"],
            input="\n".join(self.names),
            text=True,
            check=True,
        )

    def noop(self) -> None:  # raw docker has no idempotent apply; not measured
        raise NotImplementedError

    def destroy(self) -> None:
        sh("docker", "rm", "-f", *self.names)
        sh("docker", "network", "rm", self.net)


def measure(peer: Peer, repeat: int, noop: bool) -> dict[str, float]:
    runs: dict[str, list[float]] = {"apply": [], "noop": [], "destroy": []}
    for _ in range(repeat):
        try:
            runs["apply"].append(timed(peer.apply))
            if noop:
                runs["noop"].append(timed(peer.noop))
        except BaseException:  # interrupted or failed: leave no benchmark objects behind
            with contextlib.suppress(Exception):
                peer.destroy()
            raise
        runs["destroy"].append(timed(peer.destroy))
    return {k: statistics.median(v) for k, v in runs.items() if v}


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
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # a terminated run unwinds (and cleans up) like Ctrl-C
    signal.signal(signal.SIGTERM, _interrupt)
    byte_compile()
    if shutil.which("docker-compose") is None:
        print("docker-compose is missing: run scripts/ensure-docker", file=sys.stderr)
        return 2
    failed = False
    for n in args.sizes:
        with tempfile.TemporaryDirectory(prefix="aifo-bench-") as tmp:
            work = Path(tmp)
            results = {
                "aifo": measure(Aifo(work, n), args.repeat, noop=True),
                "compose": measure(Compose(work, n), args.repeat, noop=True),
                "docker run": measure(RawRun(work, n), args.repeat, noop=False),
            }
        print(f"\n{n} containers, median of {args.repeat} (seconds)")
        print(f"{'':12}{'apply':>10}{'no-op':>10}{'destroy':>10}")
        for name, r in results.items():
            cells = "".join(f"{r[k]:>10.2f}" if k in r else f"{'-':>10}" for k in TARGETS)
            print(f"{name:12}{cells}")
        for phase, target in TARGETS.items():
            ratio = results["aifo"][phase] / results["compose"][phase]
            verdict = "ok" if ratio <= target else "MISSED"
            failed |= ratio > target
            print(f"  {phase:8} aifo/compose = {ratio:.2f}  (target <= {target})  {verdict}")
        for phase in ("apply", "destroy"):  # the floor of any docker-CLI-driven tool
            raw = results["aifo"][phase] / results["docker run"][phase]
            print(f"  {phase:8} aifo/docker-run = {raw:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
