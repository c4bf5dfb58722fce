"""Journals as untrusted input, on the real engine (issue 22 case 2): a journal planted in the
state folder names a container and a volume that belong to no aifo session. A read-only
command runs nothing; `aifo recover` runs only what checks out, and every removal checks the
session label first, so the foreign objects survive both. Also (issue 23): a rollback whose
undo failed keeps its journal as `journal.failed-*`, as recovery does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aifo.apply.journal import JOURNAL, Journal
from aifo.errors import ApplyFailed, EngineError
from tests.apply.helpers import apply_file, destroy_all, spec_v1, write_spec
from tests.engine_hooks import CountingEngine

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]
OTHER_UID = 4242


def _docker(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *argv], capture_output=True, text=True, timeout=60)


def _exists(kind: str, name: str) -> bool:
    return _docker(kind, "inspect", name).returncode == 0


@pytest.fixture
def foreign(session_name: str, busybox_image: str) -> Iterator[dict[str, str]]:
    """A container, a volume and a network made by hand: no aifo label at all."""
    names = {k: f"{session_name}-foreign-{k}" for k in ("container", "volume", "network")}
    made = _docker("create", "--name", names["container"], busybox_image, "true")
    assert made.returncode == 0, made.stderr
    names["container_id"] = made.stdout.strip()
    assert _docker("volume", "create", names["volume"]).returncode == 0
    net = _docker("network", "create", names["network"])
    assert net.returncode == 0, net.stderr
    names["network_id"] = net.stdout.strip()
    try:
        yield names
    finally:
        _docker("rm", "-f", names["container"])
        _docker("volume", "rm", "-f", names["volume"])
        _docker("network", "rm", names["network"])


def _plant(state_dir: Path, session: str, foreign: dict[str, str], *, committed: bool) -> Path:
    folder = state_dir / "sessions" / session
    folder.mkdir(parents=True, mode=0o700)
    path = folder / JOURNAL
    journal = Journal.create(path, {"session": session, "pid": 999999, "before": {}})
    cid, vol = foreign["container_id"], foreign["volume"]
    discard = {"ids": [cid], "names": [foreign["container"]]}
    journal.append(
        {"type": "step", "seq": 1, "op": "create_container", "rid": "agent/a", "args": {},
         "undo": {"op": "discard_containers", "args": discard}},
        {"type": "done", "seq": 1, "result": {"id": cid}},
        {"type": "step", "seq": 2, "op": "create_volume", "rid": "volume/v", "args": {},
         "undo": {"op": "discard_volume", "args": {"name": vol}}},
        {"type": "done", "seq": 2, "result": {"created": True}},
        {"type": "step", "seq": 3, "op": "create_network", "rid": "network/n", "args": {},
         "undo": {"op": "discard_network", "args": {"name": foreign["network"]}}},
        {"type": "step", "seq": 4, "op": "start", "rid": "agent/a", "args": {},
         "undo": {"op": "restore_running", "args": {"id": cid, "running": True}}},
        sync=True,
    )  # fmt: skip
    if committed:
        ops = [
            {"op": "remove_containers", "args": {"ids": [cid]}},
            {"op": "rename_container", "args": {"id": cid, "name": "renamed-by-journal"}},
            {"op": "remove_network", "args": {"id": foreign["network_id"]}},
            {"op": "remove_volume", "args": {"name": vol}},
        ]
        journal.append({"type": "commit", "ops": ops, "applied": {}}, sync=True)
    journal.close()
    return path


def _aifo(state_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aifo", *argv],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "AIFO_STATE_DIR": str(state_dir)},
    )  # fmt: skip


def _untouched(foreign: dict[str, str]) -> None:
    found = _docker("inspect", "-f", "{{.Name}} {{.State.Status}}", foreign["container_id"])
    assert found.stdout.split() == [f"/{foreign['container']}", "created"], found
    assert _exists("volume", foreign["volume"]) and _exists("network", foreign["network"])


@pytest.mark.parametrize("committed", [False, True], ids=["roll-back", "roll-forward"])
def test_a_planted_journal_never_touches_foreign_objects(
    session_name: str, state_dir: Path, foreign: dict[str, str], committed: bool
) -> None:
    path = _plant(state_dir, session_name, foreign, committed=committed)
    status = _aifo(state_dir, "status", "--session", session_name)
    assert status.returncode == 0, status.stderr
    assert "unfinished apply" in status.stderr and "aifo recover" in status.stderr
    assert path.exists()  # a read-only command runs nothing
    _untouched(foreign)
    recovered = _aifo(state_dir, "recover", "--session", session_name)
    _untouched(foreign)  # each removal found no `io.aifo.session` label: not ours
    assert "Traceback" not in recovered.stderr
    assert not path.exists()


def test_a_journal_of_another_user_is_refused_by_recover(
    session_name: str, state_dir: Path, foreign: dict[str, str]
) -> None:
    path = _plant(state_dir, session_name, foreign, committed=False)
    os.chown(path, OTHER_UID, OTHER_UID)
    for argv in (("status", "--session", session_name), ("recover", "--session", session_name)):
        done = _aifo(state_dir, *argv)
        assert "Traceback" not in done.stderr
        _untouched(foreign)
    assert done.returncode == 1 and f"belongs to uid {OTHER_UID}" in done.stderr, done.stderr
    assert path.exists()
    explicit = _aifo(state_dir, "recover", str(path))  # named by path: refused the same way
    assert explicit.returncode == 1 and "refusing the journal" in explicit.stderr
    _untouched(foreign)


def test_a_rollback_with_undo_failures_keeps_its_journal(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, spec_v1(session_name))

    def broken_from_the_fifth(n: int, name: str) -> None:
        if n >= 5 and name not in ("create_lock", "remove_lock"):
            raise EngineError(f"injected: the engine broke at call {n} ({name})")

    from aifo.engine.choose import connect

    try:
        with pytest.raises(ApplyFailed) as caught:
            apply_file(CountingEngine(connect(), broken_from_the_fifth), spec)
        assert caught.value.undo_failures
        folder = state_dir / "sessions" / session_name
        assert not (folder / JOURNAL).exists()
        [kept] = folder.glob("journal.failed-*.jsonl")
        first = json.loads(kept.read_text().splitlines()[0])
        assert first["type"] == "begin" and first["session"] == session_name
    finally:
        destroy_all(session_name)
