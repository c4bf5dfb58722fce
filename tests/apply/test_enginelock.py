"""Who holds a session lock, and whether it is still alive (pure: the holder record and /proc)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

from aifo.apply import enginelock
from aifo.apply.enginelock import Holder, _started


def _here(**changes: object) -> Holder:
    return dataclasses.replace(Holder.here("apply", 60.0), **changes)  # type: ignore[arg-type]


def test_label_round_trip_and_garbage() -> None:
    holder = _here()
    assert Holder.from_label(holder.label()) == holder
    assert Holder.from_label("not json") is None
    assert Holder.from_label('{"user": "x"}') is None
    assert Holder.from_label(None) is None


def test_same_host_dead_process_is_dead_at_once() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not _here(pid=child.pid, started="").alive(now=0.0)


def test_same_host_live_process_is_alive_unless_its_pid_was_reused() -> None:
    parent = os.getppid()
    assert _here(pid=parent, started=_started(parent)).alive(now=0.0)
    assert not _here(pid=parent, started="1").alive(now=0.0)  # another process, same PID


def test_this_process_alive_only_while_it_holds_that_lock() -> None:
    holder = _here()
    assert not holder.alive(now=0.0)  # leaked: no holder in this process knows the token
    enginelock._HELD.add(holder.token)
    try:
        assert holder.alive(now=0.0)
    finally:
        enginelock._HELD.discard(holder.token)


def test_other_host_lives_by_its_lease() -> None:
    holder = _here(host_key="another-boot/1/elsewhere", acquired=1000.0, lease_s=60.0)
    assert holder.alive(now=1059.0)
    assert not holder.alive(now=1060.0)


def test_description_names_command_pid_user_host() -> None:
    holder = _here(user="ana", host="box", pid=42, acquired=0.0)
    assert holder.describe() == "`aifo apply` (PID 42, ana@box, since 00:00:00 UTC)"
