"""Fail the k-th mutating engine call, for every k, of an apply from nothing and of an update
(replace + add + remove), each of at least 12 calls; and the k-th mutating Engine API request
of an apply from nothing. After each failure Docker must be exactly as before: same objects,
same container ids, same running states, same network attachments. A fault past the commit
point is rolled forward (retried) instead: the apply then succeeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from aifo.apply.journal import JOURNAL
from aifo.errors import ApplyFailed
from tests.apply.helpers import (
    apply_file,
    assert_never_on_bridge,
    counting,
    destroy_all,
    docker_state,
    faulty,
    shape,
    spec_v1,
    spec_v2,
    write_spec,
)
from tests.engine_hooks import WireFaults

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]


def _journal_left(state_dir: Path, session: str) -> bool:
    return (state_dir / "sessions" / session / JOURNAL).exists()


def test_every_fault_of_an_initial_apply_rolls_back(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, spec_v1(session_name))
    probe = counting()
    apply_file(probe, spec)
    total = probe.count
    assert total >= 12, probe.calls
    target = shape(docker_state(session_name))
    destroy_all(session_name)
    empty = docker_state(session_name)
    assert empty == {"containers": {}, "networks": {}, "volumes": []}

    for k in range(1, total + 1):
        with pytest.raises(ApplyFailed) as caught:
            apply_file(faulty(k), spec)
        assert f"injected fault at mutating call {k}" in str(caught.value)
        assert caught.value.undo_failures == (), (k, caught.value.cause, caught.value.undo_failures)
        assert docker_state(session_name) == empty, f"k={k}: not rolled back"
        assert not _journal_left(state_dir, session_name)

    apply_file(counting(), spec)  # and a clean run still converges afterwards
    final = docker_state(session_name)
    assert shape(final) == target
    assert_never_on_bridge(final)


def test_every_fault_of_an_update_rolls_back_or_forward(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    v1 = write_spec(tmp_path, spec_v1(session_name), "v1.yaml")
    v2 = write_spec(tmp_path, spec_v2(session_name), "v2.yaml")
    apply_file(counting(), v1)
    probe = counting()
    result = apply_file(probe, v2)
    assert {a.op for a in result.plan.changes} >= {"create", "replace", "remove"}
    total = probe.count
    assert total >= 12, probe.calls
    target = shape(docker_state(session_name))
    assert_never_on_bridge(docker_state(session_name))

    def reset() -> dict[str, object]:
        destroy_all(session_name)
        apply_file(counting(), v1)
        return docker_state(session_name)

    before = reset()
    rolled_back = rolled_forward = 0
    for k in range(1, total + 1):
        try:
            apply_file(faulty(k), v2)
        except ApplyFailed as failed:
            assert f"injected fault at mutating call {k}" in str(failed)
            assert failed.undo_failures == (), (k, failed.cause, failed.undo_failures)
            after = docker_state(session_name)
            assert after == before, f"k={k}: Docker differs from before the apply"
            rolled_back += 1
        else:  # the fault hit the commit phase: retried, finished
            after = docker_state(session_name)
            assert shape(after) == target, f"k={k}: commit was not rolled forward"
            assert_never_on_bridge(after)
            rolled_forward += 1
            before = reset()
        assert not _journal_left(state_dir, session_name)
    assert rolled_back >= 9 and rolled_forward >= 1, (rolled_back, rolled_forward)


def test_every_failed_request_of_an_initial_apply_rolls_back(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    """Below the contract: one create is a create plus connects, one start call starts several
    containers; whichever request fails, nothing is left."""
    spec = write_spec(tmp_path, spec_v1(session_name))
    probe = WireFaults()
    apply_file(probe.engine, spec)
    total = probe.count
    assert total >= 14, probe.sent
    destroy_all(session_name)
    empty = docker_state(session_name)

    for k in range(1, total + 1):
        with pytest.raises(ApplyFailed) as caught:
            apply_file(WireFaults(k).engine, spec)
        assert f"injected fault at mutating request {k}" in str(caught.value)
        assert caught.value.undo_failures == (), (k, caught.value.cause, caught.value.undo_failures)
        assert docker_state(session_name) == empty, f"k={k}: not rolled back"
        assert not _journal_left(state_dir, session_name)
