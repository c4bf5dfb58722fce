"""Benchmark: the same aifo workload on Docker and on Podman (issue 16), in one run.

N busybox containers (as bench_apply.py: `sleep` under init, capabilities dropped, one internal
network); cold apply, no-op apply and destroy with `AIFO_ENGINE=docker` and `=podman`, taking
turns within each repetition; medians and the Podman/Docker ratio per phase. Podman's API service
is started (by aifo) before the first timed run, so no run pays for it.

    .venv/bin/python bench/bench_engines.py --sizes 10 50 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_apply import Aifo, _interrupt, byte_compile, measure  # noqa: E402


class OnEngine(Aifo):
    def __init__(self, work: Path, n: int, engine: str) -> None:
        folder = work / engine
        folder.mkdir()
        super().__init__(folder, n)
        self.name = f"aifo on {engine}"
        self.env["AIFO_ENGINE"] = engine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    if shutil.which("podman") is None:
        print("podman is missing: run scripts/ensure-podman", file=sys.stderr)
        return 2
    byte_compile()
    os.environ.pop("AIFO_ENGINE", None)
    for n in args.sizes:
        with tempfile.TemporaryDirectory(prefix="aifo-bench-engines-") as tmp:
            work = Path(tmp)
            docker, podman = OnEngine(work, n, "docker"), OnEngine(work, n, "podman")
            podman.destroy()  # starts Podman's API service (and finds nothing to remove)
            results = measure([(docker, True), (podman, True)], args.repeat)
        print(f"\n{n} containers, median of {args.repeat} alternating runs (seconds)")
        print(f"{'':18}{'apply':>10}{'no-op':>10}{'destroy':>10}")
        for name, r in results.items():
            print(f"{name:18}" + "".join(f"{r[k]:>10.2f}" for k in ("apply", "noop", "destroy")))
        d, p = results[docker.name], results[podman.name]
        ratios = "  ".join(f"{k} {p[k] / d[k]:.2f}" for k in ("apply", "noop", "destroy"))
        print(f"  podman/docker: {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
