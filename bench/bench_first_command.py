"""Benchmark: time to a first command (issue 26). `aifo apply` of a one-agent spec, then the first
`aifo exec AGENT -- true`, against `docker run -d` then `docker exec` with the same settings.

Each round is a fresh session (a new session name: nothing of it exists in Docker, and its attach
index is not written yet), with the console script as users run it. The two sides alternate
which goes first every round, so load drifting on a shared machine hits them alike; the ratios
are medians of each round's own ratio. One warm-up round is not counted. Every object is removed
after its round, outside the timing (aifo's by `aifo destroy`, which also removes the host
guard's rules; then by label, both sides).

Cases:
  plain      one agent, no network (aifo gives it network mode none), no workspace;
  workspace  the agent's workspace bound at /workspace, on one internal network (the CLI side
             creates the same network with `docker network create --internal`, timed with its
             `run`).

The CLI side runs `docker run -d --init --cap-drop ALL --security-opt no-new-privileges
--read-only --tmpfs /tmp --pids-limit 4096 ...`, aifo's defaults for an agent. Targets:
apply + first exec <= 1.35 x run + exec; the first exec after apply <= 1.5 x `docker exec`.

Run after `scripts/ensure-docker` and `scripts/seed-images`:

    .venv/bin/python bench/bench_first_command.py --rounds 15
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMAGE = "aifo-test/busybox:latest"
TOTAL_TARGET = 1.35
FIRST_EXEC_TARGET = 1.5
BENCH_LABEL = "io.aifo.bench=first-command"
CLI_FLAGS = (
    "--init", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--read-only",
    "--tmpfs", "/tmp", "--pids-limit", "4096",
)  # fmt: skip
STEPS = ("apply", "first", "second")
LABELS = {
    "apply": "create and start (`apply` / `run -d`)",
    "first": "first command after apply (`exec`)",
    "second": "second exec",
    "total": "total (apply + first exec)",
}


def spec(session: str, case: str) -> str:
    lines = ["version: 1", f"session: {session}"]
    if case == "workspace":
        lines += ["networks:", "  sandbox: {internal: true}"]
    lines += [
        "agents:",
        "  hello:",
        f"    image: {IMAGE}",
        "    pull: never",
        '    command: ["sleep", "2147483647"]',
    ]
    lines += ["    networks: [sandbox]"] if case == "workspace" else ["    workspace: false"]
    return "\n".join(lines) + "\n"


def aifo_command() -> list[str]:
    script = Path(sys.executable).parent / "aifo"
    return [str(script)] if script.exists() else [sys.executable, "-m", "aifo"]


def byte_compile() -> None:
    """As installing the wheel does (PYTHONDONTWRITEBYTECODE is set on these machines)."""
    import compileall

    import aifo

    compileall.compile_dir(str(Path(aifo.__file__).parent), quiet=1)


def timed(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise RuntimeError(f"failed: {' '.join(argv)}")
    return took


def quiet(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return done.stdout


def remove_labelled(label: str) -> None:
    """Containers, then networks, carrying `label` (only this bench's own)."""
    ids = quiet("docker", "ps", "-aq", "--filter", f"label={label}").split()
    if ids:
        quiet("docker", "rm", "-f", *ids)
    nets = quiet("docker", "network", "ls", "-q", "--filter", f"label={label}").split()
    if nets:
        quiet("docker", "network", "rm", *nets)


class Round:
    """One fresh session of a case, on both sides."""

    def __init__(self, root: Path, state: Path, case: str, tag: str) -> None:
        self.case = case
        self.session = f"first-{tag}"
        self.work = root / self.session  # the spec's folder: the agent's workspace in case 2
        self.work.mkdir()
        (self.work / "aifo.yaml").write_text(spec(self.session, case))
        self.env = {**os.environ, "AIFO_STATE_DIR": str(state)}
        self.aifo = aifo_command()
        self.name = f"aifobench-first-{tag}"
        self.net = f"{self.name}-net"

    def ours(self) -> dict[str, float]:
        apply = timed([*self.aifo, "apply", "--yes"], self.work, self.env)
        exec_ = [*self.aifo, "exec", "hello", "--", "true"]
        first = timed(exec_, self.work, self.env)
        return {"apply": apply, "first": first, "second": timed(exec_, self.work, self.env)}

    def peer(self) -> dict[str, float]:
        run = ["docker", "run", "-d", "--label", BENCH_LABEL, "--name", self.name, *CLI_FLAGS]
        apply = 0.0
        if self.case == "workspace":
            net = ["docker", "network", "create", "--internal", "--label", BENCH_LABEL, self.net]
            apply += timed(net)
            run += ["--network", self.net, "-v", f"{self.work}:/workspace", "-w", "/workspace"]
        else:
            run += ["--network", "none"]
        apply += timed([*run, IMAGE, "sleep", "2147483647"])
        exec_ = ["docker", "exec", self.name, "true"]
        first = timed(exec_)
        return {"apply": apply, "first": first, "second": timed(exec_)}

    def teardown(self) -> None:
        quiet(*self.aifo, "destroy", "--yes", cwd=self.work, env=self.env)
        remove_labelled(f"io.aifo.session={self.session}")
        quiet("docker", "rm", "-f", self.name)
        quiet("docker", "network", "rm", self.net)


Sample = tuple[dict[str, float], dict[str, float]]  # (aifo, docker) per round


def run_case(case: str, rounds: int, root: Path, state: Path) -> list[Sample]:
    samples: list[Sample] = []
    for i in range(rounds + 1):  # round 0 warms (byte code, caches, the lock image)
        r = Round(root, state, case, f"{case[:2]}{i}-{secrets.token_hex(2)}")
        try:
            if i % 2 == 0:
                ours, peer = r.ours(), r.peer()
            else:
                peer, ours = r.peer(), r.ours()
        finally:
            r.teardown()
        if i > 0:
            samples.append((ours, peer))
    return samples


def report(case: str, samples: list[Sample]) -> bool:
    """Print the issue's table for one case; True when both targets are met."""
    for ours, peer in samples:
        ours["total"] = ours["apply"] + ours["first"]
        peer["total"] = peer["apply"] + peer["first"]
    print(f"\ncase {case}: {len(samples)} alternating rounds after a warm-up (medians)")
    print("| step | aifo | `docker` CLI, same settings | ratio (median of per-round ratios) |")
    print("|---|---|---|---|")
    ratio: dict[str, float] = {}
    for step in (*STEPS, "total"):
        a = statistics.median(o[step] for o, _ in samples)
        d = statistics.median(p[step] for _, p in samples)
        ratio[step] = statistics.median(o[step] / p[step] for o, p in samples)
        print(f"| {LABELS[step]} | {a:.3f} s | {d:.3f} s | {ratio[step]:.2f}x |")
    per_round = " ".join(f"{o['total'] / p['total']:.2f}" for o, p in samples)
    print(f"total ratio per round: {per_round}")
    ok_total = ratio["total"] <= TOTAL_TARGET
    ok_first = ratio["first"] <= FIRST_EXEC_TARGET
    print(f"apply + first exec: {ratio['total']:.2f}x (target <= {TOTAL_TARGET}: "
          f"{'ok' if ok_total else 'MISSED'})")  # fmt: skip
    print(f"first exec:         {ratio['first']:.2f}x (target <= {FIRST_EXEC_TARGET}: "
          f"{'ok' if ok_first else 'MISSED'})")  # fmt: skip
    return ok_total and ok_first


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="counted rounds (default 15)")
    parser.add_argument(
        "--case", choices=("plain", "workspace"), nargs="+", default=["plain", "workspace"]
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)  # a terminated run cleans up like Ctrl-C
    byte_compile()
    root = Path(tempfile.mkdtemp(prefix="aifo-bench-first-"))
    state = Path(tempfile.mkdtemp(prefix="aifo-bench-first-state-"))  # outside the workspaces
    ok = True
    try:
        for case in args.case:
            ok &= report(case, run_case(case, args.rounds, root, state))
    finally:
        remove_labelled(BENCH_LABEL)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
