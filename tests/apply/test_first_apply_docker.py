"""Issue 26: a session never applied from this state folder takes the engine lock first and
observes once, under it; a later apply observes without the lock first (a no-op takes no lock),
and a change observes again under the lock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aifo import pipeline
from aifo.engine.choose import connect
from tests.apply.helpers import destroy_all, write_spec
from tests.cli.helpers import idle_spec

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]


def _apply(spec: Path, calls: list[str]) -> None:
    engine = connect()
    observe, create_lock = engine.observe, engine.create_lock

    def observing(*args: Any, **kw: Any) -> Any:
        calls.append("observe")
        return observe(*args, **kw)

    def locking(*args: Any, **kw: Any) -> Any:
        calls.append("lock")
        return create_lock(*args, **kw)

    engine.observe, engine.create_lock = observing, locking  # type: ignore[method-assign]
    pipeline.apply_compiled(engine, pipeline.load(spec, engine=engine))


def test_a_first_apply_observes_once_under_the_lock(
    session_name: str, state_dir: Path, tmp_path: Path, busybox_image: str
) -> None:
    spec = write_spec(tmp_path, idle_spec(session_name, busybox_image))
    try:
        first: list[str] = []
        _apply(spec, first)
        assert first == ["lock", "observe"]
        noop: list[str] = []
        _apply(spec, noop)
        assert noop == ["observe"]  # applied before: no lock for nothing to do
        spec.write_text(idle_spec(session_name, busybox_image).replace("2147483647", "600"))
        change: list[str] = []
        _apply(spec, change)
        assert change == ["observe", "lock", "observe"]  # what changed while it waited counts
    finally:
        destroy_all(session_name)
