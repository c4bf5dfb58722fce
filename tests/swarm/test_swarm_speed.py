"""What keeps a Swarm apply near the Engine API floor (issue 25's bench; docs/engine.md, "Swarm:
the apply's critical path"), on the real 2-node swarm: each task's `/proc/1/status` is read once
per apply (verification's read serves observe's postconditions).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aifo.engine.choose import connect
from aifo.engine.swarm.adapter import SwarmEngine
from aifo.engine.wire import Wire
from tests.apply.helpers import IDLE, IMAGE, apply_file, write_spec
from tests.swarm.nodes_helpers import Swarm

pytestmark = [pytest.mark.docker, pytest.mark.swarm, pytest.mark.slow, pytest.mark.timeout(300)]


def pair_spec(session: str) -> str:
    box = f"image: {IMAGE}\n    pull: never\n    command: {IDLE}\n    networks: [sandbox]"
    return (
        f"version: 1\nsession: {session}\nnetworks:\n  sandbox: {{internal: true}}\n"
        f"services:\n  agent:\n    {box}\n  tool:\n    {box}\n"
    )


def test_each_task_is_read_once_per_apply(
    on_swarm: Swarm, swarm_session: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verification reads each new task's /proc/1/status (one exec on its node); the
    postconditions' observe reuses what it read instead of a second exec per task."""
    engine = connect()
    assert isinstance(engine, SwarmEngine)
    execs: list[str] = []
    request = Wire.request

    def counted(self: Wire, method: str, path: str, **kw: object) -> object:
        if method == "POST" and path.endswith("/exec"):
            execs.append(path)
        return request(self, method, path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Wire, "request", counted)
    apply_file(engine, write_spec(tmp_path, pair_spec(swarm_session)))
    assert len(execs) == 2 and len(set(execs)) == 2, execs  # one per task container
    assert len(engine._proc) == 2  # kept for later observes of this engine
    for status in engine._proc.values():
        assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2", status


def test_an_apply_lists_only_what_its_session_asks_for(
    on_swarm: Swarm, swarm_session: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An apply, its re-apply and a destroy ask the manager for the services they need with
    filters (by label, name, id), never for every service of the swarm: what they list and
    parse does not grow with a team's swarm (50 services: ~74 KB a listing, measured)."""
    from aifo.apply.destroy import destroy

    engine = connect()
    assert isinstance(engine, SwarmEngine)
    unfiltered: list[str] = []
    filters: list[str] = []
    request = Wire.request

    def watched(self: Wire, method: str, path: str, **kw: object) -> object:
        query = kw.get("query") or {}
        assert isinstance(query, dict)
        if method == "GET" and path == "/services":
            if "filters" not in query:
                unfiltered.append(path)
            else:
                filters.append(str(query["filters"]))
        return request(self, method, path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Wire, "request", watched)
    spec = write_spec(tmp_path, pair_spec(swarm_session))
    apply_file(engine, spec)
    apply_file(engine, spec)  # the no-op re-apply
    assert unfiltered == []
    ids = set(engine.labelled(swarm_session).containers.values())
    assert len(ids) == 2
    # the transaction's refs are the creates' ids: found by id alone, never also by name/label
    assert not [f for f in filters if '"id"' not in f and any(i in f for i in ids)], filters
    destroy(engine, swarm_session, volumes=True)
    assert engine.labelled(swarm_session).containers == {}


def test_an_apply_reads_each_engines_info_once(
    on_swarm: Swarm, swarm_session: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`GET /info` costs a daemon ~5 ms of CPU (measured): the node's identity check keeps the
    engine ID that says whether the node is this machine, and threads asking for one node at
    once share one check, so each engine answers it once per apply (the session's node used
    to answer it twice, the manager's node up to 4 times)."""
    from collections import Counter

    from aifo import pipeline

    engine = connect()
    assert isinstance(engine, SwarmEngine)
    pipeline.apparmor(engine)  # the engine's security options, cached per endpoint once per machine
    infos: Counter[str] = Counter()
    request = Wire.request

    def counted(self: Wire, method: str, path: str, **kw: object) -> object:
        if (method, path) == ("GET", "/info"):
            infos[self.path] += 1
        return request(self, method, path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Wire, "request", counted)
    spec = write_spec(tmp_path, pair_spec(swarm_session))
    pipeline.apply_compiled(engine, pipeline.load(spec, engine=engine))  # as `aifo apply` does
    assert infos and set(infos.values()) == {1}, infos
