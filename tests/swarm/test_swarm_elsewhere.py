"""`aifo apply` places a fresh session on another node when its node turns out to lack
no-new-privileges (aifo.apply.elsewhere; docs/swarm.md, "Placement"), on real swarms: one whose
n2 is started `--without-nnp` (as tests/swarm/test_verify_nnp.py), one where no node gives it.

n2 is made the preferred node the way placement would prefer it for real: a recorded fact that
it gave no-new-privileges (say, before its daemon.json was changed); n1 has no fact yet.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aifo.apply.journal import JOURNAL
from aifo.errors import NoNodeQualifies
from aifo.state.nodefacts import read_facts, record_fact
from tests.apply.helpers import write_spec
from tests.swarm.conftest import EMPTY, remove_session, small_spec, swarm_state
from tests.swarm.nodes_helpers import Swarm, swarm

pytestmark = [pytest.mark.docker, pytest.mark.swarm, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def half() -> Iterator[Swarm]:
    """n1 gives no-new-privileges, n2 does not."""
    with swarm("--without-nnp", "n2", prefix="sw-else") as made:
        yield made


@pytest.fixture(scope="module")
def none_nnp() -> Iterator[Swarm]:
    """No node gives no-new-privileges."""
    with swarm("--without-nnp", "n1", "--without-nnp", "n2", prefix="sw-none") as made:
        yield made


def _on(two: Swarm, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AIFO_ENGINE", "swarm")
    for key, value in two.environ.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    session = f"t-else-{secrets.token_hex(3)}"
    yield session
    remove_session(two, session)


@pytest.fixture
def on_half(half: Swarm, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from _on(half, monkeypatch)


@pytest.fixture
def on_none(none_nnp: Swarm, state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from _on(none_nnp, monkeypatch)


def spec(session: str, *, opt_out: tuple[str, ...] = ()) -> str:
    """`small_spec` (an internal overlay, a volume, and 2 containers, one without networks);
    those named in `opt_out` opt out of no-new-privileges."""
    security = "    security: {no_new_privileges: false}\n    allow: [new-privileges]\n"
    text = small_spec(session)
    if "db" in opt_out:
        text = text.replace("  worker:\n", security + "  worker:\n", 1)
    return text + (security if "worker" in opt_out else "")


def _apply(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aifo", "apply", "--yes", *extra, str(path)],
        capture_output=True, text=True, timeout=400, env=dict(os.environ),
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip


def _prefer_n2(two: Swarm) -> None:
    record_fact(two.node_id("n2"), two.hostname("n2"), nnp=True, now=time.time())


def _placing(two: Swarm, short: str, session: str) -> str:
    return (
        f"node {two.hostname(short)} does not give no-new-privileges (its daemon.json lacks "
        f'"no-new-privileges": true): rolled back, placing session {session} on another node'
    )


def _events(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_fresh_session_lands_on_a_node_that_gives_it(
    half: Swarm, on_half: str, tmp_path: Path, state_dir: Path, output: str
) -> None:
    session = on_half
    _prefer_n2(half)
    done = _apply(write_spec(tmp_path, spec(session)), "-o", output)
    assert done.returncode == 0, done.stderr
    assert _placing(half, "n2", session) in done.stderr, done.stderr
    state = swarm_state(half, session)
    n1 = half.hostname("n1")
    assert set(state["services"]) == {f"aifo-{session}-db", f"aifo-{session}-worker"}
    assert set(state["containers"].values()) == {(n1, True)}, state["containers"]
    assert [node for _, node in state["volumes"]] == [n1], state["volumes"]
    assert all(node == n1 for _, node in state["tmpfs"]), state["tmpfs"]
    assert state["configs"] == []  # the session lock, taken by each attempt, released
    facts = read_facts()  # both nodes proven now: n2 avoided, n1 preferred
    assert facts[half.node_id("n2")].nnp is False and facts[half.node_id("n1")].nnp is True
    folder = state_dir / "sessions" / session
    assert not (folder / JOURNAL).exists() and not list(folder.glob("*failed*"))
    if output == "json":  # one stream: attempt 1, apply.retry, attempt 2; no error object
        events = _events(done.stdout)
        kinds = [e.get("event") for e in events]
        assert kinds.count("plan") == 2 and kinds.count("apply.retry") == 1, kinds
        assert not any("error" in e and "event" not in e for e in events), events
        retry = kinds.index("apply.retry")
        assert events[retry]["node"] == half.hostname("n2")
        assert events[retry]["node_id"] == half.node_id("n2") and events[retry]["attempt"] == 2
        done_events = [e for e in events if e.get("event") == "apply.done"]
        assert [e["ok"] for e in done_events] == [False, True], done_events
        assert "NoNewPrivs 0" in done_events[0]["error"]
        assert kinds.index("plan") < retry < kinds.index("plan", retry)


def test_a_session_that_exists_on_the_bad_node_is_not_moved(
    half: Swarm, on_half: str, tmp_path: Path
) -> None:
    session = on_half
    _prefer_n2(half)
    # it runs on n2 (its db opts out of no-new-privileges), then its db wants it: the replace
    # fails closed on n2, is rolled back, and the session stays where its volume is
    first = _apply(write_spec(tmp_path, spec(session, opt_out=("db", "worker"))))
    assert first.returncode == 0, first.stderr
    n2 = half.hostname("n2")
    before = swarm_state(half, session)
    assert {node for node, _ in before["containers"].values()} == {n2}, before
    again = _apply(write_spec(tmp_path, spec(session, opt_out=("worker",))), "-o", "json")
    assert again.returncode == 1, again.stderr
    assert "NoNewPrivs 0" in again.stderr and "placing session" not in again.stderr
    events = _events(again.stdout)
    assert [e.get("event") for e in events].count("plan") == 1  # one attempt
    assert events[-1]["error"]["kind"] == "apply-failed", events[-1]
    after = swarm_state(half, session)
    assert after["services"] == before["services"] and after["volumes"] == before["volumes"]
    assert {node for node, _ in after["containers"].values()} == {n2}, after


def test_no_node_gives_it_no_node_qualifies_after_one_attempt_per_node(
    none_nnp: Swarm, on_none: str, tmp_path: Path
) -> None:
    session = on_none
    done = _apply(write_spec(tmp_path, spec(session)), "-o", "json")
    assert done.returncode == NoNodeQualifies.exit_code, done.stderr
    events = _events(done.stdout)
    kinds = [e.get("event") for e in events]
    assert kinds.count("plan") == 2 and kinds.count("apply.retry") == 2, kinds  # one per node
    tried = {e["node"] for e in events if e.get("event") == "apply.retry"}
    assert tried == {none_nnp.hostname("n1"), none_nnp.hostname("n2")}
    error = events[-1]["error"]  # the one error object, NoNodeQualifies' as without a retry
    assert error["kind"] == "no-node" and error["exit_code"] == NoNodeQualifies.exit_code
    assert error["message"] == "no node of the swarm can run this session safely"
    assert len(error["items"]) == 2 and all(
        "no no-new-privileges" in i["message"] for i in error["items"]
    )
    for short in ("n1", "n2"):
        assert _placing(none_nnp, short, session) in done.stderr, done.stderr
    assert swarm_state(none_nnp, session) == EMPTY
