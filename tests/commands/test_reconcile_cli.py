"""plan / apply / destroy / status / recover as processes: exit codes, output, and the crash,
interrupt and concurrency stories (SIGKILL mid-apply, SIGINT, two applies on one session)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.apply.helpers import docker_state, shape, spec_v1, spec_v2, write_spec
from tests.engine_hooks import paused_aifo
from tests.security.helpers import aifo

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]
EMPTY: dict[str, object] = {"containers": {}, "networks": {}, "volumes": []}


class Background:
    """`aifo ...` in the background; stderr lines collected as they come."""

    def __init__(
        self,
        *argv: str,
        pause_at: int,
        pause_s: float = 3600.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.proc = subprocess.Popen(
            paused_aifo(*argv, at=pause_at, pause_s=pause_s),
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._queue.put(line)

    def wait_for(self, text: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and self._queue.empty():
                    break
                continue
            self.lines.append(line)
            if text in line:
                return
        raise AssertionError(f"no {text!r} in stderr: {''.join(self.lines)}")

    def signal_at(self, text: str, sig: signal.Signals, timeout_s: float) -> int:
        """Wait for `text` on stderr, send `sig`, return the exit code (killed if it hangs)."""
        try:
            self.wait_for(text)
            self.proc.send_signal(sig)
            return self.proc.wait(timeout=timeout_s)
        finally:
            self.stop()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)

    def rest(self) -> str:
        while not self._queue.empty():
            self.lines.append(self._queue.get())
        return "".join(self.lines)


def _journal(state_dir: Path, session: str) -> Path:
    return state_dir / "sessions" / session / "journal.jsonl"


def test_plan_apply_status_cycle(session_name: str, state_dir: Path, tmp_path: Path) -> None:
    spec = str(write_spec(tmp_path, spec_v1(session_name)))
    assert aifo("plan", spec, "--detailed-exitcode").returncode == 2  # Terraform: changes
    planned = json.loads(aifo("plan", spec, "-o", "json").stdout)
    assert planned["changes"] is True
    assert {a["op"] for a in planned["actions"]} == {"create", "noop"}
    done = aifo("apply", spec)  # only creates: no --yes needed without a terminal
    assert done.returncode == 0, done.stderr
    assert "Applied session" in done.stdout
    again = aifo("plan", spec, "--detailed-exitcode")
    assert again.returncode == 0 and "no changes" in again.stdout
    status = json.loads(aifo("status", spec, "-o", "json").stdout)
    containers = [o for o in status["objects"] if o["kind"] == "container"]
    assert len(containers) == 5
    assert all(o["state"] == "running" and o["drift"] is False for o in containers)


@pytest.mark.slow
def test_apply_json_lines_and_the_yes_rule(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    v1 = str(write_spec(tmp_path, spec_v1(session_name), "v1.yaml"))
    v2 = str(write_spec(tmp_path, spec_v2(session_name), "v2.yaml"))
    done = aifo("apply", v1, "-o", "json")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    names = [e["event"] for e in events]
    assert names[0] == "plan" and names[-1] == "apply.done" and events[-1]["ok"] is True
    assert {"action.start", "action.done"} <= set(names)
    before = docker_state(session_name)
    refused = aifo("apply", v2)  # replaces and removes: needs --yes without a terminal
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    assert docker_state(session_name) == before
    assert aifo("apply", v2, "--yes").returncode == 0
    status = json.loads(aifo("status", v1, "-o", "json").stdout)
    by_name = {o["name"]: o for o in status["objects"]}
    assert by_name[f"aifo-{session_name}-api"]["drift"] is True  # v1's api vs v2's in Docker
    assert by_name[f"aifo-{session_name}-cache"]["state"] == "missing"
    assert by_name[f"aifo-{session_name}-extra"]["note"] == "not in spec"


@pytest.mark.slow
def test_sigkill_mid_apply_is_rolled_back_by_the_next_command(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    v1 = str(write_spec(tmp_path, spec_v1(session_name), "v1.yaml"))
    v2 = str(write_spec(tmp_path, spec_v2(session_name), "v2.yaml"))
    assert aifo("apply", v1).returncode == 0
    before = docker_state(session_name)
    # call 9 of the update (starting bot's replacement): old api and bot already stopped,
    # their replacements created (extra's and api's chains are done; bot's needs api's)
    run = Background("apply", v2, "--yes", pause_at=9)
    try:
        run.wait_for("aifo-test: paused at 9 (start_containers)")
        os.kill(run.proc.pid, signal.SIGKILL)
    finally:
        run.stop()
    assert _journal(state_dir, session_name).exists()
    during = docker_state(session_name)["containers"]
    old_api, old_bot = (f"aifo-{session_name}-{n}" for n in ("api", "bot"))
    assert not during[old_api]["running"] and not during[old_bot]["running"], during
    assert {f"{old_api}.next", f"{old_bot}.next"} <= set(during), during
    # A read-only command changes nothing (issue 22): it says what is pending and what to run.
    half_done = docker_state(session_name)
    status = aifo("status", v2)
    assert status.returncode == 0, status.stderr
    assert "unfinished apply" in status.stderr and "aifo recover" in status.stderr
    assert docker_state(session_name) == half_done
    assert _journal(state_dir, session_name).exists()
    recovered = aifo("recover", v2)
    assert f"found an unfinished apply from PID {run.proc.pid}" in recovered.stderr
    assert "rolled back" in recovered.stdout
    assert docker_state(session_name) == before
    assert not _journal(state_dir, session_name).exists()


@pytest.mark.slow
def test_sigkill_after_commit_is_rolled_forward_by_recover(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    v1 = str(write_spec(tmp_path, spec_v1(session_name), "v1.yaml"))
    v2 = str(write_spec(tmp_path, spec_v2(session_name), "v2.yaml"))
    assert aifo("apply", v1).returncode == 0
    # call 12: past the commit marker, old containers removed, before the first rename
    run = Background("apply", v2, "--yes", pause_at=12)
    try:
        run.wait_for("aifo-test: paused at 12 (rename_container)")
        os.kill(run.proc.pid, signal.SIGKILL)
    finally:
        run.stop()
    recovered = aifo("recover", "--session", session_name)
    assert recovered.returncode == 0, recovered.stderr
    assert "rolled forward" in recovered.stdout
    after = docker_state(session_name)
    names = {n.removeprefix(f"aifo-{session_name}-") for n in after["containers"]}
    assert names == {"db", "worker", "extra", "api", "bot"}
    assert all(c["running"] for c in after["containers"].values())
    assert aifo("plan", v2, "--detailed-exitcode").returncode == 0
    assert aifo("recover", "--session", session_name).stdout.strip().endswith("nothing to recover.")


@pytest.mark.slow
def test_sigint_mid_apply_rolls_back_and_exits_1(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    v1 = str(write_spec(tmp_path, spec_v1(session_name), "v1.yaml"))
    v2 = str(write_spec(tmp_path, spec_v2(session_name), "v2.yaml"))
    assert aifo("apply", v1).returncode == 0
    before = docker_state(session_name)
    run = Background("apply", v2, "--yes", pause_at=5, pause_s=1.5)
    assert run.signal_at("aifo-test: paused at 5", signal.SIGINT, 60) == 1
    err = run.rest()
    assert "interrupted" in err and "rolled back" in err, err
    assert docker_state(session_name) == before
    assert not _journal(state_dir, session_name).exists()


@pytest.mark.slow
def test_concurrent_apply_waits_then_names_the_holder(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    spec = str(write_spec(tmp_path, spec_v1(session_name)))
    first = Background("apply", spec, pause_at=2)
    try:
        first.wait_for("aifo-test: paused at 2")
        start = time.monotonic()
        second = aifo("apply", spec, "--lock-timeout", "1")
        assert time.monotonic() - start >= 1
        assert second.returncode == 1
        assert f"locked by PID {first.proc.pid}" in second.stderr
        os.kill(first.proc.pid, signal.SIGKILL)
    finally:
        first.stop()
    recovered = aifo("recover", spec)
    assert recovered.returncode == 0, recovered.stderr
    assert f"PID {first.proc.pid}" in recovered.stderr
    assert docker_state(session_name) == EMPTY


@pytest.mark.slow
def test_destroy_works_without_the_spec_and_is_idempotent(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, spec_v1(session_name))
    assert aifo("apply", str(spec)).returncode == 0
    spec.unlink()
    assert aifo("destroy", "--session", session_name).returncode == 2  # no terminal, no --yes
    gone = aifo("destroy", "--session", session_name, "--yes")
    assert gone.returncode == 0, gone.stderr
    assert "Kept 1 volume" in gone.stdout
    assert docker_state(session_name) == {
        "containers": {},
        "networks": {},
        "volumes": [f"aifo-{session_name}-data"],
    }
    assert aifo("destroy", "--session", session_name, "--yes", "--volumes").returncode == 0
    assert docker_state(session_name) == EMPTY
    again = aifo("destroy", "--session", session_name, "--yes")
    assert again.returncode == 0 and "nothing to destroy" in again.stdout


@pytest.mark.slow
def test_sigterm_mid_destroy_exits_130_and_a_rerun_finishes(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    spec = str(write_spec(tmp_path, spec_v1(session_name)))
    assert aifo("apply", spec).returncode == 0
    run = Background("destroy", spec, "--yes", "--volumes", pause_at=1)
    assert run.signal_at("aifo-test: paused at 1", signal.SIGTERM, 30) == 130
    err = run.rest()
    assert "destroy of session" in err and "interrupted" in err, err
    assert "run `aifo destroy` again" in err and "Traceback" not in err, err
    assert docker_state(session_name)["containers"]  # stopped before removing anything
    again = aifo("destroy", spec, "--yes", "--volumes")
    assert again.returncode == 0, again.stderr
    assert docker_state(session_name) == EMPTY


def test_status_reports_name_collisions(session_name: str, state_dir: Path, tmp_path: Path) -> None:
    spec = str(write_spec(tmp_path, spec_v1(session_name)))
    name = f"aifo-{session_name}-worker"
    made = subprocess.run(
        ["docker", "create", "--name", name, "--network", "none", "aifo-test/busybox:latest"],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    try:
        status = json.loads(aifo("status", spec, "-o", "json").stdout)
        rows = [o for o in status["objects"] if o["name"] == name]
        assert {r["state"] for r in rows} == {"missing", "collision"}
        failed = aifo("apply", spec)
        assert failed.returncode == 1 and name in failed.stderr
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_plan_of_an_invalid_spec_exits_2(tmp_path: Path, state_dir: Path) -> None:
    spec = write_spec(tmp_path, "version: 1\nsession: Bad_Name\n")
    result = aifo("plan", str(spec))
    assert result.returncode == 2
    assert "session" in result.stderr


def test_shape_helper_ignores_ids() -> None:
    state: dict[str, Any] = {
        "containers": {"a": {"id": "1", "running": True, "networks": ["n"]}},
        "networks": {"n": "x"},
        "volumes": [],
    }
    assert shape(state) == {
        "containers": {"a": {"running": True, "networks": ["n"]}},
        "networks": ["n"],
        "volumes": [],
    }
