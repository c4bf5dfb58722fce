"""`aifo apply FILE --watch -o json` as a process: events, Ctrl-C, --down-on-exit."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.watch.helpers import atomic_write, write_spec
from tests.watch.test_watch_docker import container_ids

pytestmark = [pytest.mark.docker, pytest.mark.timeout(60)]


class Events:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.seen: list[dict[str, Any]] = []
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        assert proc.stdout is not None
        stream = proc.stdout
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self._queue.put(json.loads(line))

    def until(self, name: str, timeout_s: float = 20, **fields: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                event = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(event)
            if event["event"] == name and all(event.get(k) == v for k, v in fields.items()):
                return event
        raise AssertionError(f"no {name} {fields} in {self.seen}")


@pytest.mark.parametrize("down", [False, True], ids=["keep", "down-on-exit"])
@pytest.mark.slow
def test_cli_watch_json_ctrl_c(
    tmp_path: Path, session_name: str, state_dir: Path, busybox_image: str, down: bool
) -> None:
    spec = write_spec(tmp_path, session_name, image=busybox_image)
    argv = [sys.executable, "-m", "aifo", "apply", str(spec), "--watch", "-o", "json"]
    proc = subprocess.Popen(
        [*argv, *(["--down-on-exit"] if down else [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        events = Events(proc)
        events.until("watch.applied", round=1)
        events.until("watch.watching")
        atomic_write(spec, spec.read_text(encoding="utf-8").replace("GREETING: one", "GREETING: 2"))
        applied = events.until("watch.applied", round=2)
        assert applied["changes"] == 1 and "agent/a" in applied["actions"][0], applied
        assert any(e["event"] == "action.start" for e in events.seen)  # the apply's own events
        proc.send_signal(signal.SIGINT)
        stopped = events.until("watch.stopped")
        assert proc.wait(timeout=20) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert stopped["destroyed"] is down
    names = set(container_ids(session_name))
    expected = set() if down else {f"aifo-{session_name}-a", f"aifo-{session_name}-b"}
    assert names == expected
