"""One home for a replacement's temporary name (aifo.model.temp_names): the planner picks only
names observe asked about, and status knows every one of them (issue 23)."""

from __future__ import annotations

from aifo.model import Container, Session, is_temp_name, temp_names
from aifo.model.observed import ObservedContainer, Snapshot
from aifo.plan.observe import want_of
from aifo.plan.planner import Replace, plan
from aifo.plan.status import status_rows

NAME = "aifo-demo-codex"


def _session() -> Session:
    c = Container(
        name="codex", role="agent", docker_name=NAME, image="busybox:latest", config_hash="new"
    )
    return Session(name="demo", containers=(c,))


def _snapshot(*foreign: str) -> Snapshot:
    snap = Snapshot(session="demo")
    snap.containers[NAME] = ObservedContainer(
        id="id-old", name=NAME, labels={"io.aifo.session": "demo", "io.aifo.config-hash": "old"}
    )
    for name in foreign:
        snap.foreign_containers[name] = ObservedContainer(id=f"id-{name}", name=name)
    return snap


def test_the_planner_only_picks_names_observe_asked_about() -> None:
    asked = set(want_of(_session()).containers)
    taken: list[str] = []
    for _ in temp_names(NAME):
        result = plan(_session(), _snapshot(*taken))
        action = result.actions[0]
        assert isinstance(action, Replace)
        assert action.temp_name in asked, action.temp_name
        taken.append(action.temp_name)
    assert len(set(taken)) == len(temp_names(NAME))


def test_status_shows_no_leftover_temporary_name_as_a_collision() -> None:
    rows = status_rows(_snapshot(f"{NAME}.next", f"{NAME}.next2"), _session())
    assert [r for r in rows if r["state"] == "collision"] == []


def test_is_temp_name() -> None:
    assert all(is_temp_name(n) for n in temp_names(NAME))
    assert not is_temp_name(NAME) and not is_temp_name(f"{NAME}.nextx")
    assert not is_temp_name(".next")
