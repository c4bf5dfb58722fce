"""The transaction's guarantees on a real 2-node Swarm (`AIFO_ENGINE=swarm`), checked through an
independent view (the Engine API of the manager and of every node: tests/swarm/conftest.py).

Covered: a session's tasks on one node, labelled, never on a default bridge; a re-apply with 0
mutating calls; a `docker service update` made outside aifo seen as drift and converged; a task
that cannot start failing the apply within seconds, rolled back; SIGKILL mid-apply rolled back
by `aifo recover`; every fault of an apply rolled back; destroy leaving nothing on any node; the
session lock as a Swarm config.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from aifo.apply.journal import JOURNAL
from aifo.engine.choose import connect
from aifo.engine.swarm.adapter import SwarmEngine
from aifo.engine.wire import Reply
from aifo.errors import ApplyFailed, Conflict, NotFound, TaskFailed
from aifo.model import Container, Mount
from tests.apply.helpers import (
    IMAGE,
    InjectedFault,
    apply_file,
    counting,
    destroy_all,
    faulty,
    spec_v1,
    write_spec,
)
from tests.engine_hooks import CountingEngine
from tests.swarm.conftest import EMPTY, nodes_of, small_spec, swarm_state
from tests.swarm.nodes_helpers import Swarm

pytestmark = [pytest.mark.docker, pytest.mark.swarm, pytest.mark.slow, pytest.mark.timeout(600)]


def _manager_cli(swarm: Swarm, *argv: str) -> str:
    env = {**os.environ, "DOCKER_HOST": swarm.environ["DOCKER_HOST"]}
    env.pop("DOCKER_CONTEXT", None)
    done = subprocess.run(["docker", *argv], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_apply_one_node_noop_drift_destroy(
    on_swarm: Swarm, swarm_session: str, tmp_path: Path
) -> None:
    session = swarm_session
    spec = write_spec(tmp_path, spec_v1(session))
    apply_file(counting(), spec)
    state = swarm_state(on_swarm, session)
    names = {f"aifo-{session}-{n}" for n in ("db", "cache", "worker", "api", "bot")}
    assert set(state["services"]) == names and set(state["services"].values()) == {1}
    nodes = {node for node, _ in state["containers"].values()}
    assert len(nodes) == 1, state["containers"]  # the whole session on one node
    assert all(running for _, running in state["containers"].values())
    assert len(state["volumes"]) == 1 and state["volumes"][0][1] in nodes
    assert state["configs"] == []  # the lock was released
    # the worker declares no network: its own internal overlay, never a default bridge
    engine = connect()
    assert isinstance(engine, SwarmEngine)
    snap = {c.name: c for c in engine.inspect_containers(sorted(names))}
    assert snap[f"aifo-{session}-worker"].networks == ()
    assert snap[f"aifo-{session}-api"].networks == (
        f"aifo-{session}-back", f"aifo-{session}-front"
    )  # fmt: skip
    facts = snap[f"aifo-{session}-db"].facts
    assert facts is not None and "no-new-privileges" in facts.security_opt  # read from /proc
    summary = {s.name: s for s in engine.sessions()}[session]  # `aifo ls`
    assert (summary.containers, summary.running, summary.networks) == (5, 5, 2), summary
    code, out = engine.exec_capture(f"aifo-{session}-worker", ["ip", "-o", "-4", "addr"])
    assert code == 0 and "172.17." not in out, out  # not on the node's docker0

    # the host guard on Swarm is a verified no-op: a task on an internal overlay has no route
    # to its node's own addresses (the swarm gossip port listens there), one on a plain
    # overlay does (the probe can succeed)
    [node] = nodes
    info = nodes_of(on_swarm)[node].call("GET", "/info", op="read", obj="node info")
    addresses = [f"{info['Swarm']['NodeAddr']} 7946", "172.17.0.1 7946", "172.18.0.1 7946"]
    probe_cmd = "; ".join(f"nc -w2 {a} </dev/null && echo reached {a}" for a in addresses)
    code, out = engine.exec_capture(db_name := f"aifo-{session}-db", ["sh", "-c", probe_cmd])
    assert "reached" not in out and out.count("Network is unreachable") == 3, out
    code, out = engine.exec_capture(f"aifo-{session}-api", ["sh", "-c", probe_cmd])
    assert "reached" in out, out  # api is on `front` too: not internal
    assert engine.network_guards(session) == {
        f"aifo-{session}-back": tuple(
            n.bridge for n in engine.inspect_networks([f"aifo-{session}-back"])
        )
    }
    assert db_name in snap

    probe = counting()
    result = apply_file(probe, spec)
    assert not result.plan.has_changes and probe.count == 0, probe.calls

    # drift: a change made with `docker service update`, outside aifo
    db = f"aifo-{session}-db"
    _manager_cli(on_swarm, "service", "update", "-d", "--env-add", "X=1", db)
    _manager_cli(on_swarm, "service", "update", "-d", "--cap-add", "NET_ADMIN",
                 f"aifo-{session}-cache")  # fmt: skip
    time.sleep(1)
    drifted = apply_file(counting(), spec)
    changed = {a.docker_name: a.op for a in drifted.plan.changes}
    assert changed == {db: "replace", f"aifo-{session}-cache": "replace"}, changed
    probe = counting()
    assert not apply_file(probe, spec).plan.has_changes and probe.count == 0, probe.calls
    # the replacement answers to its aifo name, though Swarm could not rename its service
    assert engine.container_id(db) not in (None, "")
    assert set(swarm_state(on_swarm, session)["services"]) == names

    started = time.monotonic()
    destroy_all(session)
    took = time.monotonic() - started
    assert swarm_state(on_swarm, session) == EMPTY
    assert took < 30, took


def test_a_task_that_cannot_start_fails_fast_and_is_rolled_back(
    on_swarm: Swarm, swarm_session: str, tmp_path: Path, state_dir: Path
) -> None:
    session = swarm_session
    spec = write_spec(tmp_path, small_spec(session, '["/no/such/program"]'))
    started = time.monotonic()
    with pytest.raises(ApplyFailed) as caught:
        apply_file(counting(), spec)
    took = time.monotonic() - started
    # its init ran, then could not run the program: a container exited with 127, as one host
    # says of it (tests/swarm/test_swarm_oneshot.py); no image, a bad mount: could not start
    assert "is exited (exit code 127), not running" in str(caught.value), caught.value
    assert caught.value.undo_failures == ()
    assert took < 20, took  # not retried for ever
    assert swarm_state(on_swarm, session) == EMPTY
    assert not (state_dir / "sessions" / session / JOURNAL).exists()

    # a missing image: Swarm rejects the task ("No such image"); the engine says so at once
    engine = connect()
    assert isinstance(engine, SwarmEngine)
    labels = {"io.aifo.session": session}
    c = Container(name="m", role="service", docker_name="m", image="aifo-test/absent:1")
    sid = engine.create_container(c, name=f"aifo-{session}-m", labels=labels, networks=[],
                                  volumes={})  # fmt: skip
    started = time.monotonic()
    with pytest.raises(TaskFailed, match="No such image"):
        engine.start_container(sid)
    assert time.monotonic() - started < 15
    # a bind source the node does not have: rejected ("invalid mount config")
    bad = Container(name="b", role="service", docker_name="b", image=IMAGE, command=("true",),
                    mounts=(Mount("bind", "/w", "/no/such/folder/on/the/node"),))  # fmt: skip
    bid = engine.create_container(bad, name=f"aifo-{session}-b", labels=labels, networks=[],
                                  volumes={})  # fmt: skip
    started = time.monotonic()
    with pytest.raises(TaskFailed, match="bind source path does not exist"):
        engine.start_container(bid)
    assert time.monotonic() - started < 15
    engine.remove_containers([bid])
    engine.remove_containers([sid, "aifo-absent"])  # missing refs are ignored
    with pytest.raises(NotFound):
        engine.remove_container(sid)
    assert swarm_state(on_swarm, session) == EMPTY


def test_every_fault_of_an_apply_rolls_back(
    on_swarm: Swarm, swarm_session: str, tmp_path: Path, state_dir: Path
) -> None:
    session = swarm_session
    spec = write_spec(tmp_path, small_spec(session))
    probe = counting()
    apply_file(probe, spec)
    total = probe.count
    assert total >= 5, probe.calls
    destroy_all(session)
    assert swarm_state(on_swarm, session) == EMPTY
    for k in range(1, total + 1):
        with pytest.raises(ApplyFailed) as caught:
            apply_file(faulty(k), spec)
        assert f"injected fault at mutating call {k}" in str(caught.value)
        assert caught.value.undo_failures == (), (k, caught.value.cause, caught.value.undo_failures)
        assert swarm_state(on_swarm, session) == EMPTY, f"k={k}: not rolled back"
        assert not (state_dir / "sessions" / session / JOURNAL).exists()


def _wire_faults(k: int | None) -> tuple[SwarmEngine, list[str]]:
    """A SwarmEngine whose k-th mutating request to the manager (POST, PUT, DELETE; the
    session lock's aside: outside the transaction) is answered with an HTTP 500 unsent."""
    engine = connect()
    assert isinstance(engine, SwarmEngine)
    sent: list[str] = []
    real = engine._manager.request

    def request(method: str, path: str, **kw: Any) -> Reply:
        if method in ("POST", "PUT", "DELETE") and not path.startswith("/configs"):
            sent.append(f"{method} {path}")
            if len(sent) == k:
                message = f"injected fault at mutating request {k} ({method} {path})"
                return Reply(500, json.dumps({"message": message}).encode())
        return real(method, path, **kw)

    engine._manager.request = request  # type: ignore[method-assign]
    return engine, sent


def test_every_failed_request_to_the_manager_rolls_back(
    on_swarm: Swarm, swarm_session: str, tmp_path: Path, state_dir: Path
) -> None:
    """Below the contract: a create is a private overlay and a service, a start an update
    then a wait; whichever request fails, nothing is left."""
    session = swarm_session
    spec = write_spec(tmp_path, small_spec(session))
    engine, sent = _wire_faults(None)
    apply_file(engine, spec)
    total = len(sent)
    assert total >= 6, sent
    destroy_all(session)
    for k in range(1, total + 1):
        with pytest.raises(ApplyFailed) as caught:
            apply_file(_wire_faults(k)[0], spec)
        assert f"injected fault at mutating request {k}" in str(caught.value), (k, sent)
        assert caught.value.undo_failures == (), (k, caught.value.cause, caught.value.undo_failures)
        assert swarm_state(on_swarm, session) == EMPTY, f"k={k} ({sent[k - 1]}): not rolled back"
        assert not (state_dir / "sessions" / session / JOURNAL).exists()


def test_sigkill_mid_apply_is_recovered(
    on_swarm: Swarm, swarm_session: str, tmp_path: Path
) -> None:
    from tests.commands.test_reconcile_cli import Background
    from tests.security.helpers import aifo

    session = swarm_session
    spec = str(write_spec(tmp_path, small_spec(session)))
    run = Background("apply", spec, "--yes", pause_at=5)  # a network, a volume, services made
    try:
        run.wait_for("aifo-test: paused at 5")
        os.kill(run.proc.pid, signal.SIGKILL)
    finally:
        run.stop()
    half_done = swarm_state(on_swarm, session)
    assert half_done["services"] and half_done["networks"], half_done
    status = aifo("status", spec)
    assert "unfinished apply" in status.stderr and "aifo recover" in status.stderr
    recovered = aifo("recover", spec)
    assert "rolled back" in recovered.stdout, recovered.stderr
    state = swarm_state(on_swarm, session)
    assert state == EMPTY, state  # the killed holder's lock (a config) was taken over

    # killed again, later (the services made and starting): the next apply rolls it back first
    run = Background("apply", spec, "--yes", pause_at=6)
    try:
        run.wait_for("aifo-test: paused at 6")
        os.kill(run.proc.pid, signal.SIGKILL)
    finally:
        run.stop()
    applied = aifo("apply", spec, "--yes")
    assert applied.returncode == 0 and "rolled back" in applied.stderr + applied.stdout, applied
    state = swarm_state(on_swarm, session)
    assert set(state["services"].values()) == {1} and len(state["services"]) == 2, state
    assert state["configs"] == []


def test_the_session_lock_is_a_swarm_config(on_swarm: Swarm, swarm_session: str) -> None:
    from aifo.apply.enginelock import EngineLock

    engine = connect()
    first = EngineLock(engine, swarm_session, command="apply")
    with first:
        assert swarm_state(on_swarm, swarm_session)["configs"] == [f"aifo-{swarm_session}.lock"]
        with pytest.raises(Conflict):
            engine.create_lock(f"aifo-{swarm_session}.lock", {"io.aifo.session": swarm_session})
        found = engine.inspect_containers([f"aifo-{swarm_session}.lock"])
        assert [c.state for c in found] == ["created"]
    assert swarm_state(on_swarm, swarm_session)["configs"] == []
    with pytest.raises(NotFound):
        engine.remove_lock(f"aifo-{swarm_session}.lock")


def test_a_workspace_volume_on_the_sessions_node(
    on_swarm: Swarm, swarm_session: str, tmp_path: Path
) -> None:
    """The nodes are not this machine: binds do not reach; a folder goes into a volume on the
    session's node and comes back from whichever node has it."""
    engine = connect()
    assert isinstance(engine, SwarmEngine)
    assert engine.binds_reach(swarm_session) is False
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "f.txt").write_text("hello\n")
    labels = {"io.aifo.session": swarm_session}
    volume = f"aifo-{swarm_session}-ws"
    engine.create_volume(volume, labels=labels)
    engine.fill_volume(volume, str(source), labels=labels)
    node = engine.session_node(swarm_session)
    hostname = {n.id: n.hostname for n in engine._nodes.all()}[node]
    assert swarm_state(on_swarm, swarm_session)["volumes"] == [(volume, hostname)]
    back = tmp_path / "back"
    connect().read_volume(volume, str(back), labels=labels)  # a new process's engine
    assert (back / "sub" / "f.txt").read_text() == "hello\n"
    engine.remove_volume(volume)
    assert swarm_state(on_swarm, swarm_session) == EMPTY
    with pytest.raises(NotFound):
        engine.remove_volume(volume)


def _fault_at(name: str) -> CountingEngine:
    """Fails the first mutating call named `name` (later calls, rollback's too, go through)."""
    seen: list[str] = []

    def before(n: int, called: str) -> None:
        if called == name and name not in seen:
            seen.append(name)
            raise InjectedFault(f"injected fault at {name}")

    return CountingEngine(connect(), before)


def test_an_update_replaces_renames_and_rolls_back(
    on_swarm: Swarm, swarm_session: str, tmp_path: Path, state_dir: Path
) -> None:
    """v1 -> v2: api and bot replaced (a new service each, renamed by its label at commit),
    cache removed, extra added. A fault while the replacements start leaves v1 as it was; one
    at the commit's rename is rolled forward; then a re-apply makes no call."""
    from tests.apply.helpers import spec_v2

    session = swarm_session
    v1 = write_spec(tmp_path, spec_v1(session), "v1.yaml")
    v2 = write_spec(tmp_path, spec_v2(session), "v2.yaml")
    apply_file(counting(), v1)
    before = swarm_state(on_swarm, session)
    engine = connect()
    old_api = engine.container_id(f"aifo-{session}-api")

    with pytest.raises(ApplyFailed) as caught:
        apply_file(_fault_at("start_containers"), v2)
    assert caught.value.undo_failures == (), (caught.value.cause, caught.value.undo_failures)
    assert swarm_state(on_swarm, session) == before
    assert engine.container_id(f"aifo-{session}-api") == old_api

    result = apply_file(_fault_at("rename_container"), v2)  # the commit: rolled forward
    assert {a.op for a in result.plan.changes} >= {"create", "replace", "remove"}
    names = {f"aifo-{session}-{n}" for n in ("db", "worker", "extra", "api", "bot")}
    after = swarm_state(on_swarm, session)
    assert set(after["services"]) == names and set(after["services"].values()) == {1}, after
    assert engine.container_id(f"aifo-{session}-api") not in (None, old_api)
    assert not (state_dir / "sessions" / session / JOURNAL).exists()
    again = counting()
    assert not apply_file(again, v2).plan.has_changes and again.count == 0, again.calls


def test_a_node_aifo_cannot_reach_is_left_out(
    on_swarm: Swarm, swarm_session: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only n1's endpoint given: listing and observing work on what aifo can reach (placement
    never puts a session on the other node), instead of failing the whole swarm."""
    n1 = on_swarm.hostname("n1")
    monkeypatch.setenv("AIFO_SWARM_NODES", f"{n1}=unix://{on_swarm.socket('n1')}")
    engine = connect()
    assert isinstance(engine, SwarmEngine)
    assert [getattr(e, "node", "") for e in engine.node_engines()] == [n1]
    assert engine.labelled(swarm_session).volumes == {}
    assert engine.session_node(swarm_session) == on_swarm.node_id("n1")


def test_a_network_removed_outside_aifo_is_attached_again_in_place(
    on_swarm: Swarm, swarm_session: str, tmp_path: Path
) -> None:
    """`docker service update --network-rm` is drift the planner fixes in place: on Swarm a
    service update of its networks (a new task, verified again); then 0 calls."""
    session = swarm_session
    spec = (
        small_spec(session)
        .replace(
            "networks:\n  back: {internal: true}\n",
            "networks:\n  back: {internal: true}\n  front: {}\n",
        )
        .replace("    networks: [back]\n", "    networks: [back, front]\n")
    )
    path = write_spec(tmp_path, spec)
    apply_file(counting(), path)
    engine = connect()
    db = f"aifo-{session}-db"
    first = engine.container_id(db)
    _manager_cli(on_swarm, "service", "update", "-d", "--network-rm", f"aifo-{session}-front", db)
    deadline = time.monotonic() + 30
    while True:
        [found] = engine.inspect_containers([db])
        if found.running and found.networks == (f"aifo-{session}-back",):
            break
        assert time.monotonic() < deadline, found
        time.sleep(0.2)
    probe = counting()
    result = apply_file(probe, path)
    assert {a.docker_name: a.op for a in result.plan.changes} == {db: "update"}, [
        (a.op, a.reasons) for a in result.plan.changes
    ]
    assert probe.calls == ["connect_network"], probe.calls
    [found] = engine.inspect_containers([db])
    assert found.id == first and found.running
    assert found.networks == (f"aifo-{session}-back", f"aifo-{session}-front")
    again = counting()
    assert not apply_file(again, path).plan.has_changes and again.count == 0, again.calls


def test_a_foreign_service_with_our_name_is_never_adopted(
    on_swarm: Swarm, swarm_session: str, tmp_path: Path
) -> None:
    """A service someone else made under a name the spec would use: the plan refuses, and
    nothing of that service changes (it is not ours to replace or remove)."""
    session = swarm_session
    name = f"aifo-{session}-db"
    _manager_cli(on_swarm, "service", "create", "-d", "--name", name, "--replicas", "0",
                 "--label", "owner=someone", IMAGE, "sleep", "60")  # fmt: skip
    try:
        with pytest.raises(Exception, match=name):
            apply_file(counting(), write_spec(tmp_path, small_spec(session)))
        listed = _manager_cli(on_swarm, "service", "ls", "--filter", f"name={name}", "-q")
        assert len(listed.split()) == 1
        state = swarm_state(on_swarm, session)
        assert state == EMPTY, state  # nothing of the session was made (or left)
    finally:
        _manager_cli(on_swarm, "service", "rm", name)


def test_the_engine_option_selects_swarm(
    on_swarm: Swarm, swarm_session: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.security.helpers import aifo

    monkeypatch.delenv("AIFO_ENGINE")
    listed = aifo("--engine", "swarm", "ls")
    assert listed.returncode == 0, listed
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    refused = aifo("--engine", "swarm", "ls")
    assert refused.returncode == 2 and "unix socket" in refused.stderr, refused
