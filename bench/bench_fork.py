"""Benchmark: `aifo fork new 8` on a 2-container session (agent plus toolchain) against its floor.

The floor is the same work with nothing around it: the 8 clones (`git clone --local
--no-hardlinks` plus a checkout of the fork's branch, one after the other, as aifo makes them),
then the 16 containers on 8 internal networks created and started through the Engine API on the
socket, 8 requests in flight. The repository is generated: --files files (10,000) of about
--size bytes each (~5 KiB: ~50 MB), incompressible, in one commit. The clone strategy's cost is
reported on its own, beside the alternatives it was chosen over (hard links: refused, they share
writable inodes; a worktree: refused, its `.git` file names a host path).

    .venv/bin/python bench/bench_fork.py --repeat 3          # issue 24's goal: <= 1.15 x floor
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_apply import IMAGE, api  # noqa: E402

FORKS = 8
AIFO = [sys.executable, "-m", "aifo"]


def sh(*argv: str, cwd: Path | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise subprocess.CalledProcessError(done.returncode, argv)
    return done.stdout


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def make_repo(root: Path, files: int, size: int, session: str) -> Path:
    repo = root / "repo"
    for i in range(files):
        path = repo / f"d{i % 100:02d}" / f"f{i}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64encode(os.urandom(size * 3 // 4)))
    (repo / "aifo.yaml").write_text(
        f"""version: 1
session: {session}
networks:
  sandbox: {{internal: true}}
agents:
  agent:
    image: {IMAGE}
    pull: never
    command: [sleep, "2147483647"]
    networks: [sandbox]
toolchains:
  tool:
    image: {IMAGE}
    pull: never
    command: [sleep, "2147483647"]
    networks: [sandbox]
"""
    )
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    # no background `gc --auto` (10,000 loose objects start one) packing under the clones' feet
    sh("git", "-c", "gc.auto=0", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "b",
       cwd=repo)  # fmt: skip
    sh("git", "gc", "-q", cwd=repo)  # packed, as a real repository is
    return repo


def clone(repo: Path, dest: Path, *, how: str) -> None:
    if how == "worktree":
        sh("git", "worktree", "add", "-q", "-b", dest.name, str(dest), cwd=repo)
        return
    links = ["--no-hardlinks"] if how == "copy" else []
    sh("git", "clone", "-q", "--local", *links, "--no-checkout", str(repo), str(dest))
    sh("git", "checkout", "-q", "-b", "aifo/bench", "HEAD", "--", cwd=dest)


class Floor:
    """8 clones, then 8 networks and 16 containers through the API (8 requests in flight)."""

    def __init__(self, repo: Path, tag: str) -> None:
        self.repo, self.tag = repo, tag
        self.clones = repo.parent / "floor-clones"
        self.pool = ThreadPoolExecutor(max_workers=8)

    def _fork(self, i: int) -> None:
        net = f"{self.tag}-n{i}"
        api("POST", "/networks/create", {"Name": net, "Internal": True, "CheckDuplicate": True})
        for role in ("agent", "tool"):
            name = f"{self.tag}-{i}-{role}"
            config = {
                "Image": IMAGE,
                "Cmd": ["sleep", "3600"],
                "Labels": {"io.aifo.bench": "fork-floor"},
                "HostConfig": {
                    "NetworkMode": net,
                    "Init": True,
                    "CapDrop": ["ALL"],
                    "SecurityOpt": ["no-new-privileges"],
                    "Binds": [f"{self.clones / str(i)}:/workspace"],
                },
                "NetworkingConfig": {"EndpointsConfig": {net: {"Aliases": [role]}}},
            }
            created = api("POST", f"/containers/create?name={name}", config)
            api("POST", f"/containers/{created['Id']}/start")

    def make(self) -> tuple[float, float]:
        cloning = timed(
            lambda: [clone(self.repo, self.clones / str(i), how="copy") for i in range(FORKS)]
        )
        engine = timed(lambda: list(self.pool.map(self._fork, range(FORKS))))
        return cloning, engine

    def remove(self) -> None:
        for i in range(FORKS):
            for role in ("agent", "tool"):
                try:
                    api("DELETE", f"/containers/{self.tag}-{i}-{role}?force=1")
                except RuntimeError:
                    pass
            try:
                api("DELETE", f"/networks/{self.tag}-n{i}")
            except RuntimeError:
                pass
        shutil.rmtree(self.clones, ignore_errors=True)


def aifo_round(repo: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([*AIFO, "fork", "new", str(FORKS)], cwd=repo, env=env,
                          capture_output=True, text=True)  # fmt: skip
    took = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(1)
    subprocess.run([*AIFO, "fork", "rm", "--all", "--yes", "--force"], cwd=repo, env=env,
                   capture_output=True, check=True)  # fmt: skip
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=5_000, help="bytes per file")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="benchfork-") as tmp:
        root = Path(tmp)
        session = f"bench-fork-{os.getpid()}"
        started = time.perf_counter()
        repo = make_repo(root, args.files, args.size, session)
        mb = sum(p.stat().st_size for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts)
        print(f"repository: {args.files} files, {mb / 1e6:.0f} MB "
              f"(made in {time.perf_counter() - started:.1f}s)")  # fmt: skip
        env = {**os.environ, "AIFO_STATE_DIR": str(root / "state")}
        aifo, floor, cloning, engine = [], [], [], []
        for r in range(args.repeat):  # the peers take turns going first: load drift hits both
            peer = Floor(repo, f"aifobench-fork{os.getpid()}-{r}")
            if r % 2:
                aifo.append(aifo_round(repo, env))
            try:
                c, e = peer.make()
            finally:
                peer.remove()
            cloning.append(c)
            engine.append(e)
            floor.append(c + e)
            if not r % 2:
                aifo.append(aifo_round(repo, env))
        strategies: dict[str, list[float]] = {"copy": [], "hardlink": [], "worktree": []}
        for r in range(args.repeat):  # each strategy a few times, in turn
            for how in strategies:
                dest = root / f"strategy-{how}-{r}"
                strategies[how].append(timed(lambda d=dest, h=how: clone(repo, d, how=h)))
        med = statistics.median
        print(f"engine floor (16 containers, 8 networks): {med(engine):.2f}s")
        print(f"8 clones (--local --no-hardlinks + checkout): {med(cloning):.2f}s")
        print(f"floor total: {med(floor):.2f}s")
        print(f"aifo fork new {FORKS}: {med(aifo):.2f}s")
        ratios = [a / f for a, f in zip(aifo, floor, strict=True)]
        print(f"ratio aifo / floor: {med(aifo) / med(floor):.2f} (per round: "
              + ", ".join(f"{x:.2f}" for x in ratios) + "; goal <= 1.15)")  # fmt: skip
        each = ", ".join(f"{k} {med(v):.2f}s" for k, v in strategies.items())
        print(f"one clone, by strategy (median of {args.repeat}): {each}")


if __name__ == "__main__":
    main()
