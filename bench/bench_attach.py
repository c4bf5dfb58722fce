"""Benchmark: `aifo exec NAME -- true` against `docker exec CONTAINER true`, side by side.

One idle busybox container, applied once. Each repetition runs both (aifo first, then docker,
alternating the order every other time), so load drifting on a shared machine hits them alike.
aifo runs as users run it (the console script, the nearest aifo.yaml, the container's name):
after the first run it takes the fast attach path (the plain-data index of the spec kept while
the spec and its inputs are unchanged; aifo.attach.cache). Prints the medians and the ratio issue 14
targets: aifo exec <= 1.5 x docker exec. A first, uncached run is shown on its own. The same
pair runs again at a pseudo-terminal (`docker exec -it`), shown beside it.

Run after `scripts/ensure-docker` and `scripts/seed-images`:

    .venv/bin/python bench/bench_attach.py --repeat 30
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

IMAGE = "aifo-test/busybox:latest"
TARGET = 1.5

SPEC = """\
version: 1
session: {session}
networks:
  sandbox: {{internal: true}}
agents:
  hello:
    image: {image}
    pull: never
    command: ["sleep", "2147483647"]
    networks: [sandbox]
    workspace: false
"""


def aifo_command() -> list[str]:
    """The console script beside this interpreter (as installed), else `python -m aifo`."""
    script = Path(sys.executable).parent / "aifo"
    return [str(script)] if script.exists() else [sys.executable, "-m", "aifo"]


def byte_compile() -> None:
    """Byte-compile the package, as installing the wheel does (with PYTHONDONTWRITEBYTECODE set,
    as on these machines, an editable checkout would recompile changed modules every run)."""
    import compileall

    import aifo

    compileall.compile_dir(str(Path(aifo.__file__).parent), quiet=1)


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"failed: {' '.join(argv)}")
    return took


def at_terminal(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    """`timed`, with stdin, stdout and stderr on a new pseudo-terminal (`docker exec -it`'s case;
    aifo then gives the process a terminal too)."""
    import pty

    master, slave = pty.openpty()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every holder of the terminal has gone
            break
        if not chunk:
            break
        out += chunk
    code = proc.wait()
    took = time.perf_counter() - start
    os.close(master)
    if code != 0:
        sys.stderr.write(out.decode(errors="replace"))
        raise SystemExit(f"failed at a terminal: {' '.join(argv)}")
    return took


def side_by_side(
    ours: list[str], peer: list[str], repeat: int, run: Callable[[list[str]], float]
) -> tuple[float, float]:
    """Medians of `repeat` runs of each, alternating which goes first."""
    a: list[float] = []
    d: list[float] = []
    for i in range(repeat):
        runs = [(a, ours), (d, peer)]
        for sink, argv in runs if i % 2 == 0 else reversed(runs):
            sink.append(run(argv))
    return statistics.median(a), statistics.median(d)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed runs of each (default 30)")
    args = parser.parse_args()
    byte_compile()
    session = f"bench-attach-{secrets.token_hex(3)}"
    work = Path(tempfile.mkdtemp(prefix="aifo-bench-attach-"))
    env = {**os.environ, "AIFO_STATE_DIR": str(work / "state")}
    (work / "aifo.yaml").write_text(SPEC.format(session=session, image=IMAGE))
    aifo = aifo_command()
    container = f"aifo-{session}-hello"
    try:
        timed([*aifo, "apply", "--yes"], work, env)
        cold = timed([*aifo, "exec", "hello", "--", "true"], work, env)  # compiles, caches
        for _ in range(3):  # warm both (page cache, the daemon's exec path)
            timed([*aifo, "exec", "hello", "--", "true"], work, env)
            timed(["docker", "exec", container, "true"], work, env)
        ours = [*aifo, "exec", "hello", "--", "true"]
        a, d = side_by_side(
            ours, ["docker", "exec", container, "true"], args.repeat,
            lambda argv: timed(argv, work, env),
        )  # fmt: skip
        ta, td = side_by_side(
            ours, ["docker", "exec", "-it", container, "true"], args.repeat,
            lambda argv: at_terminal(argv, work, env),
        )  # fmt: skip
        print(f"aifo exec NAME -- true (first run, compiles)  {cold * 1000:7.1f} ms")
        print(f"aifo exec NAME -- true (median of {args.repeat})        {a * 1000:7.1f} ms")
        print(f"docker exec CONTAINER true (median of {args.repeat})    {d * 1000:7.1f} ms")
        print(f"at a terminal: aifo exec {ta * 1000:.1f} ms, docker exec -it {td * 1000:.1f} ms")
        verdict = "ok" if a / d <= TARGET else "over target"
        print(f"ratio aifo/docker exec: {a / d:.2f} (target <= {TARGET}: {verdict})")
        print(f"ratio at a terminal:    {ta / td:.2f}")
    finally:
        subprocess.run(
            [*aifo, "destroy", "--yes"], cwd=work, env=env, capture_output=True, check=False
        )
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
