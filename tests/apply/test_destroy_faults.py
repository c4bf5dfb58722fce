"""destroy against the real engine with a failing stop: it still removes everything (`rm -f`
kills what a failed stop left running), unless the engine is gone, which stops it at once."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from aifo.apply.destroy import destroy
from aifo.apply.events import Event
from aifo.engine.api import Engine
from aifo.engine.choose import connect
from aifo.errors import EngineError, EngineUnavailable
from tests.apply.helpers import apply_file, docker_state, spec_v1, write_spec
from tests.engine_hooks import CountingEngine

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]


def _failing_stops(error: EngineError) -> CountingEngine:
    def before(n: int, name: str) -> None:
        if name == "stop_containers":
            raise error

    return CountingEngine(connect(), before)


@pytest.mark.slow
def test_a_failed_stop_still_removes_everything(session_name: str, tmp_path: Path) -> None:
    apply_file(connect(), write_spec(tmp_path, spec_v1(session_name)))
    engine = _failing_stops(EngineError("stop refused"))
    events: list[Event] = []
    result = destroy(
        cast(Engine, engine), session_name, volumes=True, timeout_s=1, emit=events.append
    )
    failed = [e for e in events if e.event == "action.failed"]
    assert failed and all("stop refused (removing anyway)" in (e.message or "") for e in failed)
    assert "stop_containers" in engine.calls and "remove_containers" in engine.calls
    assert len(result.containers) == 5
    assert docker_state(session_name) == {"containers": {}, "networks": {}, "volumes": []}


@pytest.mark.slow
def test_engine_gone_during_stop_stops_the_destroy(session_name: str, tmp_path: Path) -> None:
    apply_file(connect(), write_spec(tmp_path, spec_v1(session_name)))
    before = docker_state(session_name)
    engine = _failing_stops(EngineUnavailable("Cannot connect to the Docker daemon"))
    with pytest.raises(EngineUnavailable):
        destroy(cast(Engine, engine), session_name, volumes=True)
    assert engine.calls == ["stop_containers"]
    assert docker_state(session_name) == before
