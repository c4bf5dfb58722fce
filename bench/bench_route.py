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
    .venv/bin/python bench/bench_route.py --transport both --mb 10   # bind and exec (issue 25)
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
    parser.add_argument("--mb", type=int, default=MB, help="MB streamed per throughput sample")
    parser.add_argument(
        "--transport", choices=("bind", "exec", "both"), default="bind",
        help="the route transport (docs/routing.md); `both` measures them in turns",
    )  # fmt: skip
    args = parser.parse_args()
    transports = ["bind", "exec"] if args.transport == "both" else [args.transport]
    aifo = [sys.executable, "-m", "aifo"]
    mb = args.mb
    with tempfile.TemporaryDirectory(prefix="aifo-bench-route-") as tmp:
        root = Path(tmp)
        made: dict[str, tuple[Path, dict[str, str], str]] = {}
        try:
            for transport in transports:
                made[transport] = _session(root / transport, transport, mb, aifo)
            n = args.calls
            loop = f"i=0; while [ $i -lt {n} ]; do %s; i=$((i+1)); done"
            lat: dict[str, list[float]] = {t: [] for t in [*transports, "docker"]}
            tp: dict[str, list[float]] = {t: [] for t in [*transports, "docker"]}
            sidecar = next(iter(made.values()))[2]
            for _ in range(args.repeat):
                for transport, (spec, env, _sc) in made.items():
                    routed_exec = [*aifo, "exec", str(spec), "a", "--", "sh", "-c"]
                    empty = run([*routed_exec, loop % ":"], env)
                    calls = run([*routed_exec, loop % "tnop"], env)
                    lat[transport].append((calls - empty) / n)
                    base = run([*routed_exec, "true"], env)
                    streamed = run([*routed_exec, "tstream | wc -c >/dev/null"], env)
                    tp[transport].append(mb / max(streamed - base, 1e-6))
                lat["docker"].append(run(["sh", "-c", loop % f"docker exec {sidecar} tnop"]) / n)
                tp["docker"].append(
                    mb / run(["sh", "-c", f"docker exec {sidecar} tstream | wc -c >/dev/null"])
                )
        finally:
            for spec, env, _sc in made.values():
                subprocess.run([*aifo, "destroy", "--yes", str(spec)], env=env,
                               capture_output=True)  # fmt: skip
    ld, td = statistics.median(lat["docker"]), statistics.median(tp["docker"])
    print(f"docker exec  latency {ld * 1000:7.1f} ms   throughput ({mb} MB) {td:7.1f} MB/s")
    ok = True
    for transport in transports:
        lr, tr = statistics.median(lat[transport]), statistics.median(tp[transport])
        print(f"{transport:5s} route  latency {lr * 1000:7.1f} ms ({lr / ld:5.2f} x)   "
              f"throughput {tr:7.1f} MB/s ({tr / td:5.2f} x)")  # fmt: skip
        if transport == "bind":  # the goals are the local transport's (docs/routing.md)
            ok = lr / ld <= LATENCY_GOAL and tr / td >= THROUGHPUT_GOAL
    return 0 if ok else 1


def _session(
    ws: Path, transport: str, mb: int, aifo: list[str]
) -> tuple[Path, dict[str, str], str]:
    """A busybox agent routing `tnop` and `tstream` to a busybox sidecar, applied."""
    session = f"bench-route-{transport}-{secrets.token_hex(3)}"
    tools = ws / "tools"
    tools.mkdir(parents=True)
    (tools / "tnop").write_text("#!/bin/sh\nexec true\n")
    (tools / "tstream").write_text(f"#!/bin/sh\nexec head -c {mb * 1000 * 1000} /dev/zero\n")
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
    state = ws.parent / f"{ws.name}-state"  # never inside the workspace (refused)
    env = {**os.environ, "AIFO_STATE_DIR": str(state), "AIFO_ROUTE_TRANSPORT": transport}
    run([*aifo, "apply", "--yes", str(spec)], env)
    return spec, env, f"aifo-{session}-tc"


if __name__ == "__main__":
    sys.exit(main())
