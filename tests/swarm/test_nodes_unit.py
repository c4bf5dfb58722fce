"""The pure parts of node access: AIFO_SWARM_NODES, Docker contexts, /nodes and /tasks items."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from aifo.engine.swarm.nodes import (
    Node,
    NodeEngine,
    Nodes,
    context_endpoint,
    node_of,
    parse_endpoints,
)
from aifo.engine.swarm.tasks import task_of
from aifo.engine.wire import Wire
from aifo.errors import EngineError, UsageError


def test_endpoints_by_node() -> None:
    value = " n1=unix:///run/n1.sock , 9lmmoh8wvp9f=unix:///tmp/x/n2.sock"
    assert parse_endpoints(value) == {"n1": "/run/n1.sock", "9lmmoh8wvp9f": "/tmp/x/n2.sock"}
    assert parse_endpoints("") == {} and parse_endpoints("  ") == {}


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("n1", "is not NODE=ENDPOINT"),
        ("n1=unix:///a,", "entry 2: '' is not NODE=ENDPOINT"),
        ("n1=unix:///a,,n2=unix:///b", "entry 2"),
        ("=unix:///a", "is not a node hostname or id"),
        ("n 1=unix:///a", "is not a node hostname or id"),
        ("-n1=unix:///a", "is not a node hostname or id"),
        ("n1=tcp://10.0.0.2:2375", "is not a unix socket"),
        ("n1=ssh://n1", "is not a unix socket"),
        ("n1=/run/n1.sock", "is not a unix socket"),
        ("n1=unix://run/n1.sock", "needs an absolute socket path"),
        ("n1=unix://", "needs an absolute socket path"),
        ("n1=unix:///a,n1=unix:///b", "named twice"),
    ],
)
def test_a_bad_entry_is_a_usage_error(value: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_endpoints(value)
    assert says in caught.value.message and "AIFO_SWARM_NODES" in caught.value.message
    assert caught.value.hint and caught.value.exit_code == 2


def test_nodes_checks_the_variable_when_built() -> None:
    with pytest.raises(UsageError):
        Nodes(Wire("/nonexistent.sock"), {"AIFO_SWARM_NODES": "n2=tcp://n2:2375"})


def _context(config: Path, name: str, host: str, *, meta_name: str | None = None) -> Path:
    folder = config / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    folder.mkdir(parents=True)
    meta = {"Name": meta_name or name, "Endpoints": {"docker": {"Host": host}}}
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder / "meta.json"


def test_context_endpoint_from_the_store(tmp_path: Path) -> None:
    _context(tmp_path, "n2", "unix:///run/n2.sock")
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert context_endpoint(env, "n2") == "unix:///run/n2.sock"
    assert context_endpoint(env, "n3") is None


def test_context_endpoint_refuses_odd_files(tmp_path: Path) -> None:
    env = {"DOCKER_CONFIG": str(tmp_path)}
    _context(tmp_path, "wrong", "unix:///x", meta_name="other")  # not the context asked for
    assert context_endpoint(env, "wrong") is None
    big = _context(tmp_path, "big", "unix:///x")
    big.write_text(json.dumps({"Name": "big", "pad": "x" * 70_000}))
    assert context_endpoint(env, "big") is None
    broken = _context(tmp_path, "broken", "unix:///x")
    broken.write_text("{not json")
    assert context_endpoint(env, "broken") is None
    link = _context(tmp_path, "link", "unix:///x")
    real = tmp_path / "real.json"
    real.write_text(link.read_text())
    link.unlink()
    os.symlink(real, link)
    assert context_endpoint(env, "link") is None  # O_NOFOLLOW


def _nodes(env: dict[str, str], *listed: Node) -> Nodes:
    nodes = Nodes(Wire("/nonexistent.sock"), env)
    nodes._listed = {n.id: n for n in listed}  # as if GET /nodes had been answered
    return nodes


N2 = Node(id="abc123", hostname="n2", manager=False, ready=True, active=True)


def test_endpoint_by_hostname_id_or_context(tmp_path: Path) -> None:
    by_name = _nodes({"AIFO_SWARM_NODES": "n2=unix:///run/n2.sock"}, N2)
    assert by_name.endpoint(N2) == "/run/n2.sock"
    by_id = _nodes({"AIFO_SWARM_NODES": "abc123=unix:///run/id.sock"}, N2)
    assert by_id.endpoint(N2) == "/run/id.sock"
    _context(tmp_path, "n2", "unix:///run/ctx.sock")
    by_context = _nodes({"DOCKER_CONFIG": str(tmp_path)}, N2)
    assert by_context.endpoint(N2) == "/run/ctx.sock"
    both = {"DOCKER_CONFIG": str(tmp_path), "AIFO_SWARM_NODES": "n2=unix:///run/n2.sock"}
    assert _nodes(both, N2).endpoint(N2) == "/run/n2.sock"  # the variable wins


def test_a_context_on_tcp_is_refused(tmp_path: Path) -> None:
    _context(tmp_path, "n2", "tcp://10.0.0.2:2375")
    with pytest.raises(UsageError, match="Docker context 'n2'.*not a unix socket"):
        _nodes({"DOCKER_CONFIG": str(tmp_path)}, N2).engine("abc123")


def test_no_endpoint_says_how_to_give_one(tmp_path: Path) -> None:
    nodes = _nodes({"DOCKER_CONFIG": str(tmp_path), "AIFO_SWARM_NODES": "n9=unix:///x"}, N2)
    with pytest.raises(EngineError) as caught:
        nodes.engine("abc123")
    assert "no engine endpoint is known for swarm node n2 (abc123)" in caught.value.message
    assert caught.value.hint and "AIFO_SWARM_NODES" in caught.value.hint
    assert "Docker context named 'n2'" in caught.value.hint


def test_node_engine_cli_parts_aim_at_the_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///manager.sock")
    monkeypatch.setenv("DOCKER_CONTEXT", "manager")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    env = NodeEngine("n2", "/run/n2.sock").runner.environ({"X": "1"})
    assert env["DOCKER_HOST"] == "unix:///run/n2.sock" and "DOCKER_CONTEXT" not in env
    assert "DOCKER_TLS_VERIFY" not in env
    assert env["X"] == "1"


def test_node_of_reads_the_listing() -> None:
    item = {
        "ID": "x1",
        "Description": {"Hostname": "n1"},
        "Spec": {"Role": "manager", "Availability": "active"},
        "Status": {"State": "ready"},
    }
    assert node_of(item) == Node("x1", "n1", manager=True, ready=True, active=True)
    drained = {**item, "Spec": {"Role": "worker", "Availability": "drain"}, "Status": None}
    assert node_of(drained) == Node("x1", "n1", manager=False, ready=False, active=False)


def test_task_of_reads_the_listing() -> None:
    item = {
        "ID": "t1",
        "ServiceID": "s1",
        "NodeID": "x2",
        "DesiredState": "running",
        "UpdatedAt": "2026-12-07T01:48:05Z",
        "Status": {"State": "running", "ContainerStatus": {"ContainerID": "c1"}},
    }
    task = task_of(item)
    assert (task.service_id, task.node_id, task.container_id, task.state) == (
        "s1", "x2", "c1", "running",
    )  # fmt: skip
    assert task.running and task.error == ""
    rejected = task_of({**item, "Status": {"State": "rejected", "Err": "No such image: x"}})
    assert not rejected.running and rejected.container_id is None
    assert rejected.error == "No such image: x"
