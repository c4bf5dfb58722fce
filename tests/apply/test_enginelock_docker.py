"""The session lock in the engine (issue 13 item 3), on the real engine: state folders, users and
machines pointed at one engine serialise on it; the holder is named; a dead holder on this host
is taken over at once; nothing of it remains after the command; observe, plan, status, destroy
and `aifo ls` never see it."""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from aifo.apply.enginelock import EngineLock, Holder, lock_name
from aifo.engine.api import Want
from aifo.engine.choose import connect
from aifo.engine.client import DockerEngine
from aifo.errors import LockTimeout, StateError
from aifo.model import LABEL_LOCK_HOLDER
from tests.apply.helpers import docker_state, shape, spec_v1, write_spec
from tests.commands.test_reconcile_cli import Background

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]


def _aifo(state: Path, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "aifo", *argv],
        env={**os.environ, "AIFO_STATE_DIR": str(state)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _locks(session: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"name={lock_name(session)}", "--format", "{{.Names}}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [n for n in out.split() if n == lock_name(session)]


def test_two_state_dirs_applying_at_once_serialise(session_name: str, tmp_path: Path) -> None:
    """Before: both failed, one's rollback deleted the other's containers. Now one applies,
    the other waits for the engine lock, observes again and finds nothing to do."""
    spec = str(write_spec(tmp_path, spec_v1(session_name)))
    runs = [_aifo(tmp_path / d, "apply", spec, "--yes") for d in ("root", "user")]
    results = [(r.wait(timeout=240), *r.communicate()) for r in runs]
    for code, out, err in results:
        assert code == 0, out + err
    outs = sorted(out for _, out, _ in results)
    assert "no changes" in outs[1] and "Applied session" in outs[0], outs
    state = docker_state(session_name)
    assert len(state["containers"]) == 5 and all(c["running"] for c in state["containers"].values())
    assert "bridge" not in {n for c in state["containers"].values() for n in c["networks"]}
    assert _locks(session_name) == []


@pytest.mark.slow
def test_holder_is_named_and_a_killed_holder_is_taken_over_at_once(
    session_name: str, tmp_path: Path
) -> None:
    spec = str(write_spec(tmp_path, spec_v1(session_name)))
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first = Background("apply", spec, "--yes", pause_at=3, env={"AIFO_STATE_DIR": str(first_dir)})
    try:
        first.wait_for("aifo-test: paused at 3")
        blocked = _aifo(second_dir, "apply", spec, "--yes", "--lock-timeout", "1")
        code, out, err = blocked.wait(timeout=60), *blocked.communicate()
        assert code == 1, out + err
        assert f"locked by `aifo apply` (PID {first.proc.pid}, " in err, err
        assert f"{getpass.getuser()}@{socket.gethostname()}" in err, err
        os.kill(first.proc.pid, signal.SIGKILL)
    finally:
        first.stop()
    assert _locks(session_name) == [lock_name(session_name)]  # the dead holder's
    # the next command does not wait for a lease (0.5 s would not do): the holder is gone
    after = _aifo(second_dir, "apply", spec, "--yes", "--lock-timeout", "0.5")
    code, out, err = after.wait(timeout=120), *after.communicate()
    assert code == 0, out + err
    assert f"took over the lock of session {session_name!r}" in err
    assert f"PID {first.proc.pid}" in err
    # the dead holder journaled in another state folder: never run by a taker (only the
    # session's journal in the taker's own folder is; issue 22), it stays for its owner
    assert "found an unfinished apply" not in err, err
    assert (first_dir / "sessions" / session_name / "journal.jsonl").exists()
    assert len(docker_state(session_name)["containers"]) == 5
    assert _locks(session_name) == []
    gone = _aifo(second_dir, "destroy", spec, "--yes", "--volumes")
    assert gone.wait(timeout=120) == 0, gone.communicate()
    assert shape(docker_state(session_name)) == {"containers": {}, "networks": [], "volumes": []}
    assert _locks(session_name) == []


@pytest.mark.parametrize("adapter", ["cli", "socket"])
def test_the_lock_is_no_object_of_the_session(
    adapter: str, session_name: str, state_dir: Path
) -> None:
    engine = DockerEngine() if adapter == "cli" else connect()
    with EngineLock(engine, session_name, command="apply", timeout_s=5) as held:
        assert held.id
        snap = engine.observe(session_name, Want(containers=(lock_name(session_name),)))
        assert snap.containers == {} and snap.foreign_containers == {}
        assert engine.labelled(session_name).containers == {}
        assert session_name not in {s.name for s in engine.sessions()}
        found = engine.inspect_containers([lock_name(session_name)])
        holder = Holder.from_label(found[0].labels[LABEL_LOCK_HOLDER])
        assert holder is not None and holder.pid == os.getpid() and holder.command == "apply"
        # a second holder in this process waits, then names the first
        with pytest.raises(LockTimeout, match=r"locked by `aifo apply` \(PID"):
            EngineLock(engine, session_name, command="destroy", timeout_s=0).acquire()
    assert _locks(session_name) == []


def test_a_lock_this_process_leaked_is_taken_over(session_name: str) -> None:
    engine = DockerEngine()
    leaked = EngineLock(engine, session_name, command="apply", timeout_s=0)
    leaked.acquire()
    leaked.id = None  # forget it without releasing: as if release had failed
    from aifo.apply import enginelock

    enginelock._HELD.discard(leaked.token)
    notes: list[str] = []
    with EngineLock(engine, session_name, command="apply", timeout_s=0, notify=notes.append):
        assert any("took over" in n for n in notes), notes
    assert _locks(session_name) == []


@pytest.mark.parametrize("adapter", ["cli", "socket"])
def test_a_missing_lock_image_is_built_then_the_lock_taken(
    adapter: str, session_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An engine without the lock image (a fresh machine): it is built once, then locked."""
    from aifo.engine import args, body

    image = f"aifo-session-lock:test-{session_name}"  # not the shared one: others use it
    monkeypatch.setattr(args, "LOCK_IMAGE", image)
    monkeypatch.setattr(body, "LOCK_IMAGE", image)
    engine = DockerEngine() if adapter == "cli" else connect()
    try:
        with EngineLock(engine, session_name, command="apply", timeout_s=5) as held:
            found = engine.inspect_containers([lock_name(session_name)])
            assert [c.id for c in found] == [held.id]
            built = subprocess.run(
                ["docker", "image", "inspect", "-f", "{{.Id}}", image],
                capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
            assert found[0].image_id == built and found[0].state == "created"
            assert found[0].networks in ((), ("none",))
        assert _locks(session_name) == []
    finally:
        subprocess.run(["docker", "image", "rm", "-f", image], capture_output=True, check=False)


@pytest.mark.parametrize("adapter", ["cli", "socket"])
def test_removing_a_lock_that_is_gone_is_not_found(adapter: str, session_name: str) -> None:
    """What release reports as "the lock was gone at the end" (its lease ran out)."""
    from aifo.errors import NotFound

    engine = DockerEngine() if adapter == "cli" else connect()
    held = EngineLock(engine, session_name, command="apply", timeout_s=5)
    held.acquire()
    assert held.id is not None
    engine.remove_lock(held.id)
    with pytest.raises(NotFound):
        engine.remove_lock(held.id)
    notes: list[str] = []
    held.notify = notes.append
    held.release()
    assert any("was gone at the end" in n for n in notes), notes


# -- hostile lock objects (issue 22 case 4): anyone with the engine can make one ------------------
def _forged_holder(**changes: object) -> str:
    """A holder record that claims this host and a PID that has exited."""
    import dataclasses
    import json

    gone = subprocess.Popen(["true"])
    gone.wait()
    holder = dataclasses.replace(Holder.here("apply", 1800.0), pid=gone.pid, started="")
    return json.dumps({**dataclasses.asdict(holder), **changes})


def _lock_labels(session: str, holder: str) -> dict[str, str]:
    from aifo.model import LABEL_RESOURCE, LABEL_SESSION, LOCK_RESOURCE

    return {LABEL_SESSION: session, LABEL_RESOURCE: LOCK_RESOURCE, LABEL_LOCK_HOLDER: holder}


def test_a_forged_lock_naming_another_sessions_journal_runs_nothing(
    session_name: str, state_dir: Path, busybox_image: str
) -> None:
    """Before: the takeover ran the journal the lock's label named, here session B's, and its
    undo removed B's container. Now a takeover recovers nothing the lock names."""
    from aifo.apply.journal import JOURNAL, Journal
    from aifo.model import LABEL_SESSION

    other = f"{session_name}-b"
    made = subprocess.run(
        ["docker", "create", "--label", f"{LABEL_SESSION}={other}", "--name", f"aifo-{other}-x",
         busybox_image, "true"], capture_output=True, text=True,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    victim = made.stdout.strip()
    try:
        folder = state_dir / "sessions" / other
        folder.mkdir(parents=True, mode=0o700)
        journal = Journal.create(folder / JOURNAL, {"session": other, "pid": 1, "before": {}})
        undo = {"op": "discard_containers", "args": {"ids": [victim]}}
        journal.append({"type": "step", "seq": 1, "op": "create_container", "rid": "agent/x",
                        "args": {}, "undo": undo}, sync=True)  # fmt: skip
        journal.close()
        engine = connect()
        labels = _lock_labels(session_name, _forged_holder(journal=str(folder / JOURNAL)))
        engine.create_lock(lock_name(session_name), labels)
        notes: list[str] = []
        with EngineLock(engine, session_name, command="apply", timeout_s=5, notify=notes.append):
            assert any("took over" in n for n in notes), notes  # its PID is gone: a fact
        assert not any("unfinished apply" in n for n in notes), notes
        still = subprocess.run(["docker", "inspect", victim], capture_output=True)
        assert still.returncode == 0  # session B's container is still there
        assert (folder / JOURNAL).exists()  # and its journal was not run
        assert _locks(session_name) == []
    finally:
        subprocess.run(["docker", "rm", "-f", victim], capture_output=True)


def test_a_lock_without_facts_is_never_taken_over(session_name: str, busybox_image: str) -> None:
    """An unreadable holder record, or a lock-named container that was started (aifo never
    starts one), is refused: nothing proves its holder dead."""
    engine = connect()
    name = lock_name(session_name)
    engine.create_lock(name, _lock_labels(session_name, '{"pid": "1; rm -rf /"}'))
    with pytest.raises(StateError, match="can't be read") as caught:
        EngineLock(engine, session_name, command="apply", timeout_s=0).acquire()
    assert f"docker rm {name}" in str(caught.value)
    assert _locks(session_name) == [name]
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=True)
    started = ["docker", "run", "-d", "--name", name]
    for key, value in _lock_labels(session_name, _forged_holder()).items():
        started += ["--label", f"{key}={value}"]
    assert subprocess.run([*started, busybox_image, "sleep", "60"]).returncode == 0
    with pytest.raises(StateError, match="is not session .*'s lock"):
        EngineLock(engine, session_name, command="apply", timeout_s=0).acquire()
    assert _locks(session_name) == [name]  # left alone
    subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=True)


def test_a_lock_of_another_session_under_this_name_is_refused(session_name: str) -> None:
    engine = connect()
    name = lock_name(session_name)
    engine.create_lock(name, _lock_labels(f"{session_name}-b", _forged_holder()))
    try:
        with pytest.raises(StateError, match="is not session .*'s lock"):
            EngineLock(engine, session_name, command="apply", timeout_s=0).acquire()
        assert _locks(session_name) == [name]
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=True)
