"""The journal file and the lock on their own (no Docker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aifo.apply.journal import Journal, load
from aifo.apply.lock import SessionLock, held_by
from aifo.apply.ops import describe, op
from aifo.apply.postcondition import differences
from aifo.errors import LockTimeout, StateError


def _write(path: Path, *records: object, tail: str = "") -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)


def test_round_trip_with_outcomes_and_commit(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal.create(path, {"session": "demo", "pid": 7, "before": {}})
    undo = op("discard_network", name="aifo-demo-n")
    journal.append({"type": "step", "seq": 1, "op": "create_network", "rid": "network/n",
                    "args": {"name": "aifo-demo-n"}, "undo": undo}, sync=True)  # fmt: skip
    journal.append({"type": "done", "seq": 1, "result": {"id": "abc"}})
    journal.append({"type": "commit", "ops": [op("remove_volume", name="v")], "applied": {}})
    journal.append({"type": "commit.done", "index": 0})
    journal.close()
    state = load(path)
    assert state.session == "demo" and state.pid == 7
    assert state.steps[0].status == "done" and state.steps[0].result == {"id": "abc"}
    assert state.steps[0].undo == undo
    assert state.committed and state.commit_done == {0}
    with pytest.raises(StateError, match="aifo recover"):
        Journal.create(path, {"session": "demo"})


def test_a_torn_last_line_is_ignored_but_a_corrupt_middle_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    begin = {"type": "begin", "version": 1, "session": "demo", "pid": 1}
    step = {"type": "step", "seq": 1, "op": "x", "rid": "r", "args": {}, "undo": None}
    _write(path, begin, step, tail='{"type": "done", "se')
    assert load(path).steps[0].status == "unknown"
    path.write_text(json.dumps(begin) + "\n{broken\n" + json.dumps(step) + "\n")
    with pytest.raises(StateError, match="corrupt"):
        load(path)
    _write(path, step)
    with pytest.raises(StateError, match="no begin record"):
        load(path)


def test_lock_names_the_holder_pid(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from aifo.apply.lock import SessionLock\n"
         "lock = SessionLock(Path(sys.argv[1]), 'demo'); lock.acquire(); print('locked', "
         "flush=True); time.sleep(30)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert held_by(tmp_path) == holder.pid
        with pytest.raises(LockTimeout, match=f"PID {holder.pid}"):
            SessionLock(tmp_path, "demo", 0.2).acquire()
    finally:
        holder.kill()
        holder.wait()
    assert held_by(tmp_path) is None
    with SessionLock(tmp_path, "demo", 0.2):
        assert (tmp_path / "lock").read_text().strip() == str(os.getpid())


def test_postcondition_differences_are_spelled_out() -> None:
    before = {
        "containers": {"a": {"id": "1", "running": True, "networks": ["n"]}},
        "networks": {"n": "x"},
        "volumes": ["v"],
    }
    after = {
        "containers": {
            "a": {"id": "2", "running": False, "networks": ["bridge"]},
            "b": {"id": "3", "running": True, "networks": []},
        },
        "networks": {},
        "volumes": [],
    }
    assert differences(before, after) == [
        "container b was left behind",
        "container a has a new id",
        "container a is stopped, was running",
        "container a is on ['bridge'], was on ['n']",
        "network n is gone",
        "volume v is gone",
    ]
    assert differences(before, before) == []
    assert describe(op("discard_containers", ids=["f" * 64])) == "discard_containers ffffffffffff"


def test_only_a_network_the_rollback_recreated_may_have_a_new_id() -> None:
    before = {"containers": {}, "networks": {"n": "x", "m": "y"}, "volumes": []}
    after = {"containers": {}, "networks": {"n": "x2", "m": "y2"}, "volumes": []}
    assert differences(before, after, recreated={"n"}) == ["network m has a new id"]
    gone = {"containers": {}, "networks": {"m": "y"}, "volumes": []}
    assert differences(before, gone, recreated={"n"}) == ["network n is gone"]
