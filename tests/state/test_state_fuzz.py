"""Fuzz: every file aifo reads back from its state folder is untrusted input (issue 22). Whatever
bytes are there, reading ends in a value, a miss, or an aifo error: never a traceback, never code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aifo.apply import journal
from aifo.apply.applied import read_applied
from aifo.apply.ops import check_ops
from aifo.errors import AifoError
from aifo.state import layercache, specrecord
from aifo.state.folder import session_dir

SESSION = "fuzzed"
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_ops = st.sampled_from(["remove_container", "remove_network", "restore_network", "rename", "x"])
_records = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["begin", "step", "done", "failed", "commit", "commit.done"])},
        optional={
            "version": st.just(journal.VERSION) | _json,
            "session": st.just(SESSION) | _json,
            "seq": st.integers(-2, 5) | _json,
            "op": _ops | _json,
            "undo": st.fixed_dictionaries({"op": _ops}, optional={"args": _json}) | _json,
            "args": _json,
            "ops": st.lists(st.fixed_dictionaries({"op": _ops}), max_size=3) | _json,
            "applied": _json,
            "index": _json,
            "before": _json,
        },
    ),
    max_size=6,
)


def _plant(path: Path, data: bytes) -> Path:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


@pytest.mark.usefixtures("state_dir")
@FUZZ
@given(st.binary(max_size=2048) | _records.map(lambda rs: "\n".join(map(json.dumps, rs)).encode()))
def test_a_journal_of_any_bytes_is_read_or_refused(data: bytes) -> None:
    path = _plant(session_dir(SESSION) / "journal.jsonl", data)
    try:
        state = journal.load(path, SESSION)
    except AifoError:
        return
    assert state.session == SESSION
    try:  # what recovery does next: an unknown or malformed operation is refused, not run
        check_ops([s.undo for s in state.steps if s.undo is not None] + state.commit_ops)
    except (ValueError, RecursionError):
        pass


@pytest.mark.usefixtures("state_dir")
@FUZZ
@given(st.binary(max_size=1024) | _json.map(lambda v: json.dumps(v).encode()))
def test_the_other_state_files_of_any_bytes_are_a_value_or_a_miss(data: bytes) -> None:
    folder = session_dir(SESSION)
    _plant(folder / "applied.json", data)
    assert isinstance(read_applied(folder), dict)
    _plant(folder / specrecord.SPEC_RECORD, data)
    recorded = specrecord.read_spec_path(SESSION)
    assert recorded is None or os.path.isabs(recorded)
    _plant(Path(layercache._file("abc", create=True)), data)
    order = layercache.read("abc")
    assert order is None or all(isinstance(layer, list) for layer in order)
