"""Apply against a real engine: idempotence, fail-closed networks, foreign names, hooks,
readiness, secrets, and the lock. Each failure must leave Docker exactly as it was."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from aifo.apply.events import Event
from aifo.apply.lock import SessionLock
from aifo.engine.choose import connect
from aifo.engine.socket_engine import SocketEngine
from aifo.errors import ApplyFailed, LockTimeout, PlanError
from tests.apply.helpers import (
    IDLE,
    IMAGE,
    apply_file,
    assert_never_on_bridge,
    counting,
    docker_state,
    spec_v1,
    write_spec,
)

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]
EMPTY: dict[str, object] = {"containers": {}, "networks": {}, "volumes": []}


def _docker(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *argv], capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_reapply_unchanged_makes_no_mutating_call(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, spec_v1(session_name))
    apply_file(counting(), spec)
    first = docker_state(session_name)
    assert_never_on_bridge(first)
    assert first["containers"][f"aifo-{session_name}-worker"]["networks"] == ["none"]
    inner = connect()
    probe = counting(inner)
    result = apply_file(probe, spec)
    assert not result.plan.has_changes
    assert probe.count == 0, probe.calls
    # one batched observe: CLI 2 rounds (3 listings + 1 image, then 3 inspects: 7 processes);
    # API 3 listings, 1 image, 5 inspects
    assert inner.calls == (3 + 1 + 5 if isinstance(inner, SocketEngine) else 7)
    assert docker_state(session_name) == first  # same ids, states, attachments


def test_foreign_network_with_our_name_is_never_touched(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    name = f"aifo-{session_name}-front"
    created = _docker("network", "create", name)
    assert created.returncode == 0, created.stderr
    try:
        probe = counting()
        with pytest.raises(PlanError) as caught:
            apply_file(probe, write_spec(tmp_path, spec_v1(session_name)))
        assert name in str(caught.value)
        assert probe.count == 0
        assert _docker("network", "inspect", "-f", "{{.Id}}", name).stdout.strip() == (
            created.stdout.strip()
        )
        assert docker_state(session_name) == EMPTY
    finally:
        _docker("network", "rm", name)


def test_overlapping_subnet_fails_before_any_container(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    blocker = f"{session_name}-blocker"
    made = _docker("network", "create", "--subnet", "10.231.7.0/24", blocker)
    assert made.returncode == 0, made.stderr
    spec = f"""\
version: 1
session: {session_name}
networks:
  ok: {{}}
  clash: {{subnet: 10.231.7.0/25}}
services:
  one: {{image: {IMAGE}, pull: never, command: {IDLE}, networks: [ok]}}
  two: {{image: {IMAGE}, pull: never, command: {IDLE}, networks: [clash]}}
"""
    try:
        probe = counting()
        with pytest.raises(ApplyFailed) as caught:
            apply_file(probe, write_spec(tmp_path, spec))
        assert "clash" in str(caught.value)
        assert caught.value.undo_failures == ()
        assert not {"create_container", "start_containers"} & set(probe.calls), probe.calls
        assert docker_state(session_name) == EMPTY
    finally:
        _docker("network", "rm", blocker)


def test_failed_hook_rolls_back(session_name: str, state_dir: Path, tmp_path: Path) -> None:
    spec = f"""\
version: 1
session: {session_name}
services:
  one:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    hooks: [{{name: broken, run: "echo about to fail; exit 3"}}]
"""
    with pytest.raises(ApplyFailed) as caught:
        apply_file(counting(), write_spec(tmp_path, spec))
    message = str(caught.value)
    assert "hook/one/broken: exited with code 3" in message
    assert "about to fail" in message
    assert docker_state(session_name) == EMPTY


@pytest.mark.slow
def test_dependency_that_exits_fails_fast(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    spec = f"""\
version: 1
session: {session_name}
services:
  db:
    image: {IMAGE}
    pull: never
    command: ["sh", "-c", "sleep 0.3; exit 4"]
    healthcheck: {{test: "false", interval: 10s}}
  web:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    depends_on: {{db: {{condition: healthy}}}}
"""
    probe = counting()
    with pytest.raises(ApplyFailed) as caught:
        apply_file(probe, write_spec(tmp_path, spec))
    # failed fast on the exit, not at the end of the 60 s readiness timeout
    assert "service/db: exited with code 4" in str(caught.value)
    assert probe.calls.count("start_containers") == 1  # web never started
    assert docker_state(session_name) == EMPTY


@pytest.mark.slow
def test_healthy_dependency_is_waited_for(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    spec = f"""\
version: 1
session: {session_name}
services:
  db:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    healthcheck: {{test: "test -e /tmp/up || touch /tmp/up", interval: 1s, retries: 5}}
  web:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    depends_on: {{db: {{condition: healthy}}}}
"""
    apply_file(counting(), write_spec(tmp_path, spec))
    health = _docker("inspect", "-f", "{{.State.Health.Status}}", f"aifo-{session_name}-db")
    assert health.stdout.strip() == "healthy"
    assert len(docker_state(session_name)["containers"]) == 2


def test_secrets_reach_hooks_but_never_config_journal_or_events(
    session_name: str, state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cr3t-" + session_name
    monkeypatch.setenv("AIFO_TEST_TOKEN", secret)
    spec = f"""\
version: 1
session: {session_name}
services:
  one:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    env:
      TOKEN: {{from_host: AIFO_TEST_TOKEN, secret: true}}
      PLAIN: visible
    hooks:
      - {{name: check, run: 'test "$TOKEN" = "{secret}" && test "$PLAIN" = visible'}}
      - {{name: leak, run: 'echo "token is $TOKEN"; exit 1'}}
"""
    journal = state_dir / "sessions" / session_name / "journal.jsonl"
    seen: list[str] = []

    def snoop(n: int, name: str) -> None:
        if journal.exists():
            seen.append(journal.read_text())

    from tests.engine_hooks import CountingEngine

    events: list[Event] = []
    with pytest.raises(ApplyFailed) as caught:
        apply_file(CountingEngine(connect(), snoop), write_spec(tmp_path, spec), emit=events.append)
    message = str(caught.value)
    assert "hook/one/leak" in message and "token is ***" in message  # masked
    assert "hook/one/check" not in message  # the secret arrived at exec time
    assert seen and all(secret not in text for text in seen)
    assert all(secret not in json.dumps(e.to_dict()) for e in events)
    assert secret not in message


def test_secret_is_not_in_the_container_config(
    session_name: str, state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cr3t-" + session_name
    monkeypatch.setenv("AIFO_TEST_TOKEN", secret)
    spec = f"""\
version: 1
session: {session_name}
services:
  one:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    env: {{TOKEN: {{from_host: AIFO_TEST_TOKEN, secret: true}}}}
"""
    apply_file(counting(), write_spec(tmp_path, spec))
    assert secret not in _docker("inspect", f"aifo-{session_name}-one").stdout
    applied = (state_dir / "sessions" / session_name / "applied.json").read_text()
    assert secret not in applied and "env.TOKEN" in applied


def test_second_apply_waits_for_the_lock_then_names_the_holder(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    import os

    spec = write_spec(tmp_path, spec_v1(session_name))
    directory = state_dir / "sessions" / session_name
    directory.mkdir(parents=True)
    with SessionLock(directory, session_name, 1.0):
        start = time.monotonic()
        with pytest.raises(LockTimeout) as caught:
            apply_file(counting(), spec, lock_timeout=0.5)
        assert time.monotonic() - start >= 0.5
    assert f"PID {os.getpid()}" in str(caught.value)
    assert docker_state(session_name) == EMPTY


class _Saboteur:
    """A real engine that quietly does the wrong thing (to prove the checks fail closed)."""

    def __init__(self, *, public_networks: bool = False, bridge: bool = False) -> None:
        self.inner = connect()
        self.public_networks = public_networks
        self.bridge = bridge

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def create_network(self, name: str, **kw: object) -> str:
        if self.public_networks:
            kw["internal"] = False
        return self.inner.create_network(name, **kw)  # type: ignore[arg-type]

    def start_containers(self, refs: list[str]) -> None:
        self.inner.start_containers(refs)
        if self.bridge:
            for ref in refs:
                _docker("network", "connect", "bridge", ref)


def test_network_not_as_declared_aborts_before_any_container(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    probe = counting(_Saboteur(public_networks=True))  # type: ignore[arg-type]
    with pytest.raises(ApplyFailed) as caught:
        apply_file(probe, write_spec(tmp_path, spec_v1(session_name)))
    assert "internal: expected true, found false" in str(caught.value)
    assert "create_container" not in probe.calls
    assert docker_state(session_name) == EMPTY


@pytest.mark.slow
def test_container_on_bridge_fails_the_apply(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(ApplyFailed) as caught:
        apply_file(
            counting(_Saboteur(bridge=True)),  # type: ignore[arg-type]
            write_spec(tmp_path, spec_v1(session_name)),
        )
    assert "attached to the default bridge" in str(caught.value)
    assert caught.value.undo_failures == ()
    assert docker_state(session_name) == EMPTY
