"""The daemon's security options (aifo.engine.facts) and their wiring into compile.

Pure: the `docker info` probe is a fake. This machine's engine reports no AppArmor
(`name=seccomp,profile=default` only), so the AppArmor branch can only be exercised this way;
tests/security/test_secure_defaults_docker.py checks the real engine agrees with what it reports.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aifo import pipeline
from aifo.cli import main
from aifo.engine import facts
from aifo.errors import EngineUnavailable

APPARMOR = ("name=apparmor", "name=seccomp,profile=default")
NO_APPARMOR = ("name=seccomp,profile=default", "name=cgroupns")
ENV = {"DOCKER_HOST": "unix:///run/a.sock"}


class Probe:
    def __init__(self, answer: tuple[str, ...] | Exception) -> None:
        self.answer = answer
        self.calls = 0

    def __call__(self) -> tuple[str, ...]:
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


class ProbedEngine:
    """The part of the engine compile asks: its security options."""

    def __init__(self, probe: Probe) -> None:
        self.security_options = probe


def answer(monkeypatch: pytest.MonkeyPatch, probe: Probe) -> None:
    """The command's engine (pipeline.connect) answers `probe`."""
    monkeypatch.setattr(pipeline, "connect", lambda: ProbedEngine(probe))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (APPARMOR, True),
        (NO_APPARMOR, False),
        ((), False),
        (("name=apparmorx",), False),
        (("name=selinux",), False),
        (("name=seccomp,profile=apparmor",), False),  # a profile called so is not AppArmor
        ((" name=apparmor ",), True),
    ],
)
def test_apparmor_enabled(options: tuple[str, ...], expected: bool) -> None:
    assert facts.apparmor_enabled(options) is expected


def test_endpoint_prefers_docker_host_then_context(tmp_path: Path) -> None:
    config = tmp_path / "docker"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    assert facts.endpoint({"DOCKER_HOST": "tcp://h:2375", "DOCKER_CONTEXT": "x"}) == (
        "host=tcp://h:2375"
    )
    assert facts.endpoint({"DOCKER_CONTEXT": "x"}) == "context=x"
    assert facts.endpoint({"DOCKER_CONFIG": str(config)}) == "context=remote"
    assert facts.endpoint({"DOCKER_CONFIG": str(tmp_path / "none")}) == "context=default"


def test_asked_once_then_cached(tmp_path: Path) -> None:
    probe = Probe(APPARMOR)
    first = facts.security_options(tmp_path, probe=probe, environ=ENV, now=1000.0)
    again = facts.security_options(tmp_path, probe=probe, environ=ENV, now=1000.0 + 3600)
    assert first == again == APPARMOR
    assert probe.calls == 1


def test_cache_is_per_endpoint_and_expires(tmp_path: Path) -> None:
    probe = Probe(NO_APPARMOR)
    facts.security_options(tmp_path, probe=probe, environ=ENV, now=1000.0)
    other = {"DOCKER_HOST": "ssh://elsewhere"}
    assert facts.cached_security_options(tmp_path, environ=other, now=1000.0) is None
    facts.security_options(tmp_path, probe=probe, environ=other, now=1000.0)
    assert probe.calls == 2
    late = 1000.0 + facts.CACHE_TTL_S + 1
    assert facts.cached_security_options(tmp_path, environ=ENV, now=late) is None
    facts.security_options(tmp_path, probe=probe, environ=ENV, now=late)
    assert probe.calls == 3


def test_unreachable_engine_gives_no_answer_and_caches_nothing(tmp_path: Path) -> None:
    probe = Probe(EngineUnavailable("reach the Docker daemon: no"))
    assert facts.security_options(tmp_path, probe=probe, environ=ENV) is None
    assert list(tmp_path.iterdir()) == []
    probe.answer = NO_APPARMOR
    assert facts.security_options(tmp_path, probe=probe, environ=ENV) == NO_APPARMOR


def test_corrupt_cache_is_asked_again(tmp_path: Path) -> None:
    probe = Probe(APPARMOR)
    facts.security_options(tmp_path, probe=probe, environ=ENV)
    [file] = tmp_path.iterdir()
    file.write_text("{not json")
    assert facts.security_options(tmp_path, probe=probe, environ=ENV) == APPARMOR
    assert probe.calls == 2


# -- wiring: every engine command compiles through pipeline.compile_resolved ------------------

SPEC = """\
version: 1
session: facts-demo
services:
  web: {image: busybox:latest, command: [sleep, "1"]}
"""


@pytest.fixture
def spec(tmp_path: Path, state_dir: Path) -> Path:
    path = tmp_path / "aifo.yaml"
    path.write_text(SPEC)
    return path


@pytest.mark.parametrize(
    ("options", "security_opt"),
    [(APPARMOR, ("apparmor=docker-default",)), (NO_APPARMOR, ())],
)
def test_pipeline_confines_containers_when_the_engine_reports_apparmor(
    spec: Path,
    monkeypatch: pytest.MonkeyPatch,
    options: tuple[str, ...],
    security_opt: tuple[str, ...],
) -> None:
    probe = Probe(options)
    answer(monkeypatch, probe)
    [web] = pipeline.load(spec).session.containers
    assert web.security_opt == security_opt
    pipeline.load(spec)  # the second command (e.g. a no-op apply) asks nothing
    assert probe.calls == 1


def test_the_apparmor_answer_changes_the_config_hash(
    spec: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer(monkeypatch, Probe(APPARMOR))
    confined = pipeline.load(spec).session.containers[0].config_hash
    for file in (state_dir / "cache" / "engine").glob("engine-*.json"):
        file.unlink()
    answer(monkeypatch, Probe(NO_APPARMOR))
    assert pipeline.load(spec).session.containers[0].config_hash != confined


def test_graph_uses_the_cached_answer_and_never_asks(
    spec: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def graph_hash() -> str:
        with pytest.raises(SystemExit) as done:
            main(["graph", str(spec), "-o", "json"])
        assert done.value.code in (0, None)
        nodes = json.loads(capsys.readouterr().out)["nodes"]
        return str(next(n["config_hash"] for n in nodes if n["id"] == "service/web"))

    answer(monkeypatch, Probe(AssertionError("graph asked Docker")))
    uncached = graph_hash()  # no cache: no AppArmor assumed, nothing asked
    answer(monkeypatch, Probe(APPARMOR))
    applied = pipeline.load(spec).session.containers[0].config_hash  # e.g. `aifo apply`
    answer(monkeypatch, Probe(AssertionError("graph asked Docker")))
    assert graph_hash() == applied != uncached


def test_the_commands_engine_is_asked_not_a_new_one(
    spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_new_engine() -> None:
        raise AssertionError("compile built an engine of its own")

    monkeypatch.setattr(pipeline, "connect", no_new_engine)
    probe = Probe(APPARMOR)
    [web] = pipeline.load(spec, engine=ProbedEngine(probe)).session.containers  # type: ignore[arg-type]
    assert probe.calls == 1 and web.security_opt == ("apparmor=docker-default",)


def test_compile_takes_the_apparmor_fact_as_a_value_and_asks_nothing(
    spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only observe and apply talk to the engine: compile gets the fact (issue 23)."""

    def no_engine() -> None:
        raise AssertionError("compile asked the engine")

    monkeypatch.setattr(pipeline, "connect", no_engine)
    resolved = pipeline.resolve(spec)
    for confined, expected in ((True, ("apparmor=docker-default",)), (False, ())):
        [web] = pipeline.compile_resolved(resolved, apparmor=confined).session.containers
        assert web.security_opt == expected
