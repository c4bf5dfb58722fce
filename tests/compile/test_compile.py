"""Compile: defaults applied once, hashes stable under spelling and sensitive to real change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aifo.model import Container
from tests.compile.helpers import session

BASE: dict[str, Any] = {
    "version": 1,
    "session": "demo",
    "networks": {"sandbox": {"internal": True}},
    "agents": {"a": {"image": "busybox:latest", "networks": ["sandbox"]}},
    "services": {"db": {"image": "busybox:latest"}},
}


def spec(**agent: Any) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(BASE))
    out["agents"]["a"].update(agent)
    return out


def container(tmp: Path, name: str = "a", **agent: Any) -> Container:
    s = session(tmp, spec(**agent))
    found = [c for c in s.containers if c.name == name]
    assert found
    return found[0]


def test_defaults_are_applied_in_compile(tmp_path: Path) -> None:
    c = container(tmp_path)
    assert (c.init, c.no_new_privileges, c.cap_drop, c.pids_limit) == (True, True, ("ALL",), 4096)
    assert c.user == "1000:1000"  # user: host → the invoking uid:gid
    assert c.docker_name == "aifo-demo-a"
    assert c.working_dir == "/workspace"
    assert [m.target for m in c.mounts] == ["/home/aifo", "/tmp", "/workspace"]
    db = container(tmp_path, "db")
    assert db.user is None and db.working_dir is None  # services: the image's user
    assert [m.target for m in db.mounts] == ["/tmp"]  # and the image's HOME


@pytest.mark.parametrize(
    "spelled_out",
    [
        {"init": True},
        {"user": "host"},
        {"security": {"cap_drop": ["ALL"], "no_new_privileges": True}},
        {"restart": "no", "tty": False, "pull": "missing"},
        {"resources": {"pids": 4096}},
        {"workspace": True},
    ],
)
def test_spelling_out_a_default_keeps_the_hash(tmp_path: Path, spelled_out: dict[str, Any]) -> None:
    assert container(tmp_path).config_hash == container(tmp_path, **spelled_out).config_hash


def test_key_order_keeps_the_hash(tmp_path: Path) -> None:
    one = container(tmp_path, env={"A": "1", "B": "2"}, labels={"x": "1", "y": "2"})
    two = container(tmp_path, labels={"y": "2", "x": "1"}, env={"B": "2", "A": "1"})
    assert one.config_hash == two.config_hash


@pytest.mark.parametrize(
    "change",
    [
        {"env": {"RUST_LOG": "debug"}},
        {"command": ["sleep", "5"]},
        {"image": "busybox:1.36"},
        {"networks": []},
        {"user": "1234:1234"},
        {"resources": {"memory": "256m"}},
        {"security": {"cap_add": ["NET_ADMIN"]}, "allow": ["capabilities"]},
        {"init": False},
        {"ports": ["18081:80"]},
        {"labels": {"team": "x"}},
    ],
)
def test_any_real_change_changes_the_hash(tmp_path: Path, change: dict[str, Any]) -> None:
    assert container(tmp_path).config_hash != container(tmp_path, **change).config_hash


def test_ordering_only_fields_do_not_force_a_recreate(tmp_path: Path) -> None:
    plain = container(tmp_path)
    assert plain.config_hash == container(tmp_path, depends_on=["db"]).config_hash
    assert plain.config_hash == container(tmp_path, readiness_timeout="5s").config_hash
    assert plain.config_hash == container(tmp_path, run=["codex"]).config_hash


def test_secret_value_changes_the_hash_but_never_appears(tmp_path: Path) -> None:
    agent = {"env": {"TOKEN": {"from_host": "TOKEN", "secret": True}}}
    first = session(
        tmp_path, spec(**agent), {"HOME": "/nonexistent-home", "TOKEN": "hunter2-secret"}
    )
    second = session(
        tmp_path, spec(**agent), {"HOME": "/nonexistent-home", "TOKEN": "other-secret"}
    )
    a1, a2 = first.resources["agent/a"], second.resources["agent/a"]
    assert isinstance(a1, Container) and isinstance(a2, Container)
    assert a1.config_hash != a2.config_hash
    (token,) = [e for e in a1.env if e.key == "TOKEN"]
    assert token.value is None and token.secret
    assert token.digest is not None and token.digest.startswith("hmac-sha256:")
    from aifo.model.graph import edges, layers
    from aifo.ui.graph import to_json

    rendered = repr(first) + to_json(first, edges(first), layers(first))
    assert "hunter2" not in rendered


def test_literal_secret_value_is_hashed_by_digest_only(tmp_path: Path) -> None:
    a = container(tmp_path, env={"PW": {"value": "s3cret-literal", "secret": True}})
    b = container(tmp_path, env={"PW": {"value": "other-literal", "secret": True}})
    assert a.config_hash != b.config_hash
    from aifo.model.hashing import env_entry

    assert "s3cret" not in json.dumps([env_entry(e) for e in a.env]) + repr(a)


def test_toolchain_version_is_substituted(tmp_path: Path) -> None:
    data = spec()
    data["toolchains"] = {"rust": {"image": "rust:{version}-slim", "version": "1.82"}}
    s = session(tmp_path, data)
    assert s.resources["toolchain/rust"].image == "rust:1.82-slim"  # type: ignore[union-attr]
    assert "image/rust:1.82-slim" in s.resources


def test_missing_version_is_a_located_error(tmp_path: Path) -> None:
    from aifo.errors import SpecError

    data = spec()
    data["toolchains"] = {"rust": {"image": "rust:{version}-slim"}}
    with pytest.raises(SpecError) as err:
        session(tmp_path, data)
    assert "aifo.yaml:" in str(err.value) and "needs a `version:`" in str(err.value)


def test_read_only_root_gets_a_tmp(tmp_path: Path) -> None:
    c = container(tmp_path, security={"read_only": True})
    assert ("tmpfs", "/tmp") in [(m.kind, m.target) for m in c.mounts]


def test_units(tmp_path: Path) -> None:
    c = container(
        tmp_path,
        resources={"memory": "512m", "cpus": 1.5},
        healthcheck={"test": "true", "interval": "500ms", "start_period": "1m"},
        ports=["8080:80", "127.0.0.1:9000:9000/udp", {"container": 81}],
        command="sh -c 'echo hi'",
    )
    assert c.memory_bytes == 512 * 1024**2 and c.cpus == 1.5
    assert c.healthcheck is not None
    assert c.healthcheck.test == ("CMD-SHELL", "true")
    assert (c.healthcheck.interval_s, c.healthcheck.start_period_s) == (0.5, 60.0)
    assert [(p.host_ip, p.host_port, p.container_port, p.protocol) for p in c.ports] == [
        ("127.0.0.1", 8080, 80, "tcp"),
        ("127.0.0.1", None, 81, "tcp"),
        ("127.0.0.1", 9000, 9000, "udp"),
    ]
    assert c.command == ("sh", "-c", "echo hi")
