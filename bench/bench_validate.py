"""Benchmark: resolve (load, merge, interpolate, schema, semantics) a spec of 1,000 containers.

Not a test: run `python bench/bench_validate.py`. Prints the best of a few runs and the target.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 0.5
CONTAINERS = 1000


def generate(n: int) -> str:
    lines = [
        "version: 1",
        "session: bench",
        "networks:",
        "  sandbox: {internal: true}",
        "  egress: {}",
        "volumes:",
        "  cache: {scope: shared}",
        "toolchains:",
        "  rust:",
        "    image: rust:1.82-slim",
        "    networks: [sandbox]",
        "agents:",
    ]
    for i in range(n):
        lines += [
            f"  agent-{i}:",
            "    image: busybox:latest",
            "    pull: never",
            '    command: ["sleep", "infinity"]',
            "    env:",
            "      RUST_LOG: ${RUST_LOG:-info}",
            f'      INDEX: "{i}"',
            "      TOKEN: {from_host: BENCH_TOKEN, secret: true}",
            "    mounts:",
            "      - {volume: cache, target: /cache, read_only: true}",
            "      - {tmpfs: /tmp, size: 64m}",
            "    networks: [sandbox, egress]",
            "    toolchains: [rust]",
            f'    ports: ["127.0.0.1:{10000 + i}:8080"]',
            "    resources: {memory: 512m, cpus: 1.5, pids: 256}",
            "    security: {cap_drop: [ALL], no_new_privileges: true}",
            "    labels: {team: bench}",
            "    hooks:",
            '      - {name: hello, run: "echo hi"}',
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    from aifo.sessionspec import resolve

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "project").mkdir()
        spec = Path(tmp) / "project" / "aifo.yaml"
        spec.write_text(generate(CONTAINERS), encoding="utf-8")
        environ = {"HOME": str(Path(tmp) / "home")}
        t0 = time.perf_counter()
        resolve(spec, environ=environ)  # first run: includes compiling the schema validator
        first = time.perf_counter() - t0
        runs, cpu = [], []
        for _ in range(10):
            t0, c0 = time.perf_counter(), time.process_time()
            resolved = resolve(spec, environ=environ)
            runs.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    best = min(runs)
    size = len(resolved.data["agents"])
    print(
        f"validate+resolve {size} containers ({len(generate(CONTAINERS)) // 1024} KiB of YAML): "
        f"best {best:.3f} s wall, {min(cpu):.3f} s CPU; first run {first:.3f} s "
        f"(target < {TARGET_S:.1f} s): {'OK' if best < TARGET_S else 'TOO SLOW'}"
    )
    return 0 if best < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
