"""Benchmark: `scripts/seed-images`, cold and warm, and the sizes of what it builds.

Not a test: run `python bench/bench_seed.py` (cold builds for minutes: --warm-only skips them).

- cold: a private set (`--namespace aifo-bench-<hex>/…`, no public tag touched) built from a fresh
  root filesystem, so no layer of the shared stand-ins is reused: every apt/npm download and
  build step runs. Then the same command again (warm). The private set is removed afterwards.
- warm: the real run (`scripts/seed-images`, everything present), compared with the floor any
  such check pays, one `docker images` listing (the peer in the same run).
- sizes: each public stand-in and its image size.
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "scripts" / "seed-images"


def timed(argv: list[str]) -> float:
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    took = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{proc.stderr}")
    return took


def best(argv: list[str], runs: int = 5) -> float:
    return min(timed(argv) for _ in range(runs))


def sizes(refs: list[str]) -> dict[str, int]:
    out = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .RepoTags}} {{.Size}}", *refs],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    found: dict[str, int] = {}
    for line in out.splitlines():
        tags, _, size = line.rpartition(" ")
        for tag in json.loads(tags):
            if tag in refs:
                found[tag] = int(size)
    return found


def private_set(namespace: str) -> list[str]:
    out = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", f"{namespace}/*"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return out.split()


def cold(namespace: str) -> None:
    print(f"cold: building {namespace}/* (minutes)...", flush=True)
    try:
        took = timed([str(SEED), "--namespace", namespace])
        warm = best([str(SEED), "--namespace", namespace], runs=3)
        print(f"  cold seed           {took:8.1f} s")
        print(f"  warm seed (same set){warm:8.2f} s")
    finally:
        refs = private_set(namespace)
        if refs:
            subprocess.run(["docker", "image", "rm", *refs], capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm-only", action="store_true", help="skip the cold build")
    args = parser.parse_args()
    if not args.warm_only:
        cold(f"aifo-bench-{secrets.token_hex(3)}")
    timed([str(SEED)])  # make sure everything is there
    warm = best([str(SEED)])
    floor = best(["docker", "images", "--format", "{{.ID}}"])
    print(
        f"warm seed-images      {warm:8.2f} s   ({warm / floor:.1f}x one `docker images`, "
        f"{floor:.2f} s)"
    )
    tags = subprocess.run(
        [str(SEED), "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    print("image sizes:")
    for tag, size in sizes(tags).items():
        print(f"  {tag:32} {size / 1e6:8.0f} MB")


if __name__ == "__main__":
    main()
