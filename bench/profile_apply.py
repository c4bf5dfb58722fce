"""Where the time of a cold `aifo apply` goes: wall clock per phase, client vs daemon CPU.

Runs N-container cold applies (the workload of bench_apply.py), each followed by a destroy, and
prints the median of each phase over --repeat runs:

    .venv/bin/python bench/profile_apply.py --size 10 --repeat 5
    .venv/bin/python bench/profile_apply.py --agent --repeat 15   # issue 26's one agent

Each apply runs in a child process (this file with `--child`) that wraps the pipeline's stage
functions to stamp when each one starts and ends (the wall clock, shared with the parent, so
the interpreter's start before the first stamp and its exit after the last are measured too).
CPU: the child's own (its rusage) against the engine's (dockerd, containerd, the shims, runc:
read from /proc around the apply). On a 2-core machine both compete for the same cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DAEMONS = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "runc")

# (phase, the stamp it ends at); each phase starts where the previous one (in time) ended. A
# session's first apply takes the lock before its one observe; a later one observes, locks and
# observes again (aifo.pipeline.prepare).
PHASES = [
    ("start-up: interpreter, imports, arguments", "> pipeline.connect"),
    ("spec: load, validate, compile (imports included)", "< pipeline.load"),
    ("observe + plan", "< pipeline.make_plan"),
    ("session lock (create)", "< EngineLock.acquire"),
    ("observe + plan again, under the lock", "< pipeline.make_plan#2"),
    ("plan output, journal, progress", "> Scheduler.prepare"),
    ("network create + verify", "< Scheduler.verify_networks"),
    ("containers: create + start", "< Scheduler.create_and_start"),
    ("containers verified (inspect)", "< Scheduler.verify_containers"),
    ("commit, journal, applied record", "< pipeline.execute"),
    ("session lock (remove)", "< EngineLock.release"),
    ("exit", "end"),
]


def _child(out: str, argv: list[str]) -> None:
    """Run `aifo ARGV` with the stage functions stamped; write the stamps to `out` at exit."""
    import atexit
    import functools
    import importlib
    import threading

    stamps: list[tuple[str, float]] = []
    seen: dict[str, int] = {}
    lock = threading.Lock()

    def stamp(label: str) -> None:
        with lock:
            seen[label] = seen.get(label, 0) + 1
            key = label if seen[label] == 1 else f"{label}#{seen[label]}"
            stamps.append((key, time.time()))

    def wrap(owner: Any, attr: str, label: str) -> None:
        fn = getattr(owner, attr)

        @functools.wraps(fn)
        def stamped(*args: Any, **kwargs: Any) -> Any:
            stamp(f"> {label}")
            try:
                return fn(*args, **kwargs)
            finally:
                stamp(f"< {label}")

        setattr(owner, attr, stamped)

    # Wrapped when the command has imported them, so no import moves into another phase.
    from aifo import pipeline

    def later(stage: str, module: str, owner: str, names: tuple[str, ...]) -> None:
        fn = getattr(pipeline, stage)

        def first(*args: Any, **kwargs: Any) -> Any:
            setattr(pipeline, stage, fn)
            loaded = importlib.import_module(module)  # (`stage` imports it first thing)
            for name in names:
                wrap(getattr(loaded, owner), name, f"{owner}.{name}")
            return fn(*args, **kwargs)

        setattr(pipeline, stage, first)

    for name in ("connect", "load", "make_plan", "execute"):  # (prepare: wrapped by `later`)
        wrap(pipeline, name, f"pipeline.{name}")
    later("prepare", "aifo.apply.enginelock", "EngineLock", ("acquire", "release"))
    later("execute", "aifo.apply.scheduler", "Scheduler", (
        "prepare", "verify_networks", "create_and_start", "verify_containers",
    ))  # fmt: skip

    def dump() -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        data = {"stamps": stamps, "cpu": usage.ru_utime + usage.ru_stime}
        Path(out).write_text(json.dumps(data))

    atexit.register(dump)
    from aifo.cli import main

    main(argv)


def _daemon_cpu() -> float:
    """CPU seconds used so far by the engine's processes (and their reaped children: runc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name in DAEMONS or name.startswith("containerd-shim"):
            fields = stat[stat.rindex(")") + 2 :].split()
            total += sum(int(f) for f in fields[11:15])  # utime, stime, reaped children's
    return total / tick


def _spec(session: str, n: int, agent: bool = False) -> str:
    """`n` services on an internal network (bench_apply's), or with `agent` the one-agent spec
    of bench_first_command (no network, no workspace)."""
    sys.path.insert(0, str(Path(__file__).parent))
    if agent:
        from bench_first_command import spec

        return spec(session, "plain")
    from bench_apply import aifo_spec

    return aifo_spec(session, n)


def _run(work: Path, spec: Path, env: dict[str, str]) -> dict[str, float]:
    out = work / "stamps.json"
    start = time.time()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    daemon0 = _daemon_cpu()
    subprocess.run(
        [sys.executable, __file__, "--child", str(out), "apply", str(spec), "--yes"],
        env=env,
        check=True,
        capture_output=True,
    )
    end = time.time()
    daemon = _daemon_cpu() - daemon0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    data = json.loads(out.read_text())
    at = {key: t for key, t in data["stamps"]}
    at["end"] = end
    phases: dict[str, float] = {}
    previous = start
    for phase, until in sorted((p for p in PHASES if p[1] in at), key=lambda p: at[p[1]]):
        phases[phase] = at[until] - previous
        previous = at[until]
    phases["total (wall)"] = end - start
    child = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    phases["client CPU (aifo process)"] = child
    phases["engine CPU (dockerd, containerd, shims, runc)"] = daemon
    subprocess.run(
        [Path(sys.executable).with_name("aifo"), "destroy", str(spec), "--yes"],
        env=env,
        check=True,
        capture_output=True,
    )
    return phases


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--agent", action="store_true", help="the one-agent spec of bench_first_command.py"
    )
    args = parser.parse_args()
    runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="aifo-profile-") as tmp:
        work = Path(tmp)
        spec = work / "aifo.yaml"
        spec.write_text(_spec(f"prof{args.size}-{os.getpid()}", args.size, args.agent))
        env = {**os.environ, "AIFO_STATE_DIR": str(work / "state")}
        _run(work, spec, env)  # warm: byte code, the layer cache, the lock image
        for _ in range(args.repeat):
            runs.append(_run(work, spec, env))
    what = "one agent" if args.agent else f"{args.size} containers"
    print(f"cold apply of {what}, {args.repeat} runs (ms): median, min - max")
    for key in runs[0]:
        values = [r[key] * 1000 for r in runs if key in r]
        spread = f"{min(values):8.1f} - {max(values):8.1f}"
        print(f"  {key:48} {statistics.median(values):8.1f}  {spread}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
