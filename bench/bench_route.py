"""Benchmark: a routed command against `docker exec` of the same command (issue 12).

Same run, same machine: a busybox agent routes `tnop` (a script that runs `true`) and `tstream`
(100 MB of zeros on stdout) to a busybox toolchain sidecar. The peers take turns within each
repetition, so load drifting on a shared machine hits them alike. Prints medians and the ratios:

    latency     routed `tnop` / `docker exec SIDECAR tnop`          goal <= 1.25 x
    throughput  100 MB through the route / through `docker exec`   goal >= 0.5 x

The routed figures are taken inside one `aifo exec` (N calls in a loop, minus the same loop
without the call), so they cost what an agent pays per command, not `aifo exec`'s own start.

Run after `scripts/ensure-docker` and `scripts/seed-images`:

    .venv/bin/python bench/bench_route.py --calls 20 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMAGE = "aifo-test/busybox:latest"
MB = 100
LATENCY_GOAL, THROUGHPUT_GOAL = 1.25, 0.5


def run(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write((done.stdout + done.stderr).decode(errors="replace"))
        raise subprocess.CalledProcessError(done.returncode, argv)
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20, help="routed calls per latency sample")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    session = f"bench-route-{secrets.token_hex(3)}"
    aifo = [sys.executable, "-m", "aifo"]
    with tempfile.TemporaryDirectory(prefix="aifo-bench-route-") as tmp:
        ws = Path(tmp)
        tools = ws / "tools"
        tools.mkdir()
        (tools / "tnop").write_text("#!/bin/sh\nexec true\n")
        (tools / "tstream").write_text(f"#!/bin/sh\nexec head -c {MB * 1000 * 1000} /dev/zero\n")
        for t in tools.iterdir():
            t.chmod(0o755)
        spec = ws / "aifo.yaml"
        spec.write_text(
            f"version: 1\nsession: {session}\n"
            f"toolchains:\n  tc:\n    image: {IMAGE}\n    pull: never\n"
            '    command: [sleep, "2147483647"]\n'
            '    env: {PATH: "/workspace/tools:/bin"}\n    tools: [tnop, tstream]\n'
            f"agents:\n  a:\n    image: {IMAGE}\n    pull: never\n"
            '    command: [sleep, "2147483647"]\n    toolchains: [tc]\n'
        )
        env = {**os.environ, "AIFO_STATE_DIR": str(ws / "state")}
        sidecar = f"aifo-{session}-tc"
        try:
            run([*aifo, "apply", "--yes", str(spec)], env)
            n = args.calls
            loop = f"i=0; while [ $i -lt {n} ]; do %s; i=$((i+1)); done"
            routed_exec = [*aifo, "exec", str(spec), "a", "--", "sh", "-c"]
            lat_routed, lat_docker, tp_routed, tp_docker = [], [], [], []
            for _ in range(args.repeat):
                empty = run([*routed_exec, loop % ":"], env)
                calls = run([*routed_exec, loop % "tnop"], env)
                lat_routed.append((calls - empty) / n)
                docker = run(["sh", "-c", loop % f"docker exec {sidecar} tnop"])
                lat_docker.append(docker / n)
                base = run([*routed_exec, "true"], env)
                streamed = run([*routed_exec, "tstream | wc -c >/dev/null"], env)
                tp_routed.append(MB / max(streamed - base, 1e-6))
                tp_docker.append(
                    MB / run(["sh", "-c", f"docker exec {sidecar} tstream | wc -c >/dev/null"])
                )
        finally:
            subprocess.run([*aifo, "destroy", "--yes", str(spec)], env=env, capture_output=True)
    lr, ld = statistics.median(lat_routed), statistics.median(lat_docker)
    tr, td = statistics.median(tp_routed), statistics.median(tp_docker)
    print(f"latency     routed {lr * 1000:7.1f} ms   docker exec {ld * 1000:7.1f} ms   "
          f"ratio {lr / ld:5.2f} x (goal <= {LATENCY_GOAL})")  # fmt: skip
    print(f"throughput  routed {tr:7.1f} MB/s docker exec {td:7.1f} MB/s "
          f"ratio {tr / td:5.2f} x (goal >= {THROUGHPUT_GOAL})")  # fmt: skip
    ok = lr / ld <= LATENCY_GOAL and tr / td >= THROUGHPUT_GOAL
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
