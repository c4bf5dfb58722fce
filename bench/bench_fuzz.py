"""The long fuzz run of issue 13: hostile specs through the whole spec stage.

Not a test: run `python bench/bench_fuzz.py [CASES]` (default 10,000). Every case is a spec drawn
from the hostile classes of tests/spec/test_fuzz.py (huge and retyped numbers, overflowing sizes
and durations, odd host paths on every route with a FIFO, a folder and a link to /run beside the
spec, flag-like images and label keys, privilege settings) with a secret planted. It prints the
counts: internal errors (any exception but SpecError), unlocated errors, leaked secrets and hangs
(a case over HANG_S seconds) must all be 0; the exit code is 1 otherwise.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
HANG_S = 10


class Hang(Exception):
    pass


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise Hang


def main(cases: int) -> int:
    sys.path.insert(0, str(ROOT))
    from hypothesis import HealthCheck, given, settings

    from aifo.errors import SpecError
    from aifo.sessionspec import resolve
    from tests.spec.test_fuzz import SECRET, hostile

    tmp = Path(tempfile.mkdtemp(prefix="aifo-fuzz-"))
    project, home = tmp / "project", tmp / "home"
    project.mkdir()
    home.mkdir()
    os.mkfifo(project / "fifo")
    (project / "dir").mkdir()
    (project / "file").write_text("x", encoding="utf-8")
    (project / "link-to-run").symlink_to("/run")
    environ = {"HOME": str(home)}
    counts: Counter[str] = Counter()
    slowest = 0.0
    signal.signal(signal.SIGALRM, _alarm)

    @settings(
        max_examples=cases,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(hostile())
    def run(text: str) -> None:
        nonlocal slowest
        counts["cases"] += 1
        (project / "aifo.yaml").write_text(text, encoding="utf-8")
        start = time.perf_counter()
        signal.alarm(HANG_S)
        try:
            resolve(project / "aifo.yaml", environ=environ)
            counts["valid"] += 1
        except SpecError as error:
            counts["located errors"] += 1
            for issue in error.issues:
                if issue.location is None:
                    counts["unlocated errors"] += 1
                if SECRET in str(issue):
                    counts["leaked secrets"] += 1
        except Hang:
            counts["hangs"] += 1
        except Exception:  # noqa: BLE001 - counting exactly these is the point
            counts["internal errors"] += 1
            if counts["internal errors"] <= 3:
                traceback.print_exc()
        finally:
            signal.alarm(0)
            slowest = max(slowest, time.perf_counter() - start)

    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    bad = ("internal errors", "unlocated errors", "leaked secrets", "hangs")
    print(f"hostile spec fuzz: {counts['cases']} cases in {elapsed:.1f} s")
    for key in ("valid", "located errors", *bad):
        print(f"  {key}: {counts[key]}")
    print(f"  slowest case: {slowest * 1000:.0f} ms (a hang is over {HANG_S} s)")
    return 1 if any(counts[k] for k in bad) or counts["cases"] < cases else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000))
