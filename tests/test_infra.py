"""The test infrastructure itself: label cleanup, the run-level leak check, the CI engine rule.
(The README's test command being the one CI runs: tests/examples/test_readme.py, its one home.)

The end-to-end cases run a small inner pytest over a copy of tests/conftest.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import DockerObject, find_leaks

ROOT = Path(__file__).resolve().parents[1]


def inner_pytest(tmp_path: Path, test_source: str, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --strict-markers\n")
    (tmp_path / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    (tmp_path / "test_inner.py").write_text(test_source)
    base = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**base, **env},
        cwd=tmp_path,
        timeout=120,
    )


def labelled(session: str) -> list[str]:
    out = []
    for cmd in (["ps", "-aq"], ["network", "ls", "-q"], ["volume", "ls", "-q"]):
        out += subprocess.run(
            ["docker", *cmd, "--filter", f"label=io.aifo.session={session}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    return out


LEAKY = """
import subprocess
from pathlib import Path

def test_leaks(session_name):
    second = session_name + "-b"  # a derived session the fixture does not clean
    Path("leaked-name").write_text(second)
    subprocess.run(["docker", "network", "create", "--label", "io.aifo.session=" + second,
                    "aifo-" + second + "-net"], check=True, capture_output=True)
"""


@pytest.mark.docker
@pytest.mark.slow
def test_a_leaking_test_fails_the_run_and_the_leak_is_removed(tmp_path: Path) -> None:
    proc = inner_pytest(tmp_path, LEAKY)
    leaked = (tmp_path / "leaked-name").read_text()
    assert "1 passed" in proc.stdout, proc.stdout
    assert proc.returncode == 1, proc.stdout
    assert "leaked Docker objects" in proc.stdout
    assert f"network aifo-{leaked}-net (session {leaked})" in proc.stdout
    assert labelled(leaked) == [], "the leak check must also remove what leaked"


FAILING_WITH_OBJECTS = """
import subprocess
from pathlib import Path

def test_fails_after_creating(session_name, busybox_image):
    Path("name").write_text(session_name)
    label = ["--label", "io.aifo.session=" + session_name]
    def docker(*argv):
        subprocess.run(["docker", *argv], check=True, capture_output=True)
    docker("network", "create", *label, "aifo-" + session_name + "-net")
    docker("volume", "create", *label, "aifo-" + session_name + "-vol")
    docker("run", "-d", *label, "--name", "aifo-" + session_name + "-c",
           "--network", "aifo-" + session_name + "-net",
           "-v", "aifo-" + session_name + "-vol:/data", busybox_image, "sleep", "300")
    assert False, "deliberate failure"
"""


@pytest.mark.docker
@pytest.mark.slow
def test_teardown_removes_the_session_even_when_the_test_failed(tmp_path: Path) -> None:
    proc = inner_pytest(tmp_path, FAILING_WITH_OBJECTS)
    name = (tmp_path / "name").read_text()
    assert re.fullmatch(r"t-test-fails-after-cre-[0-9a-f]{6}", name), name
    assert "1 failed" in proc.stdout, proc.stdout
    assert "deliberate failure" in proc.stdout
    assert "leaked Docker objects" not in proc.stdout, proc.stdout
    assert labelled(name) == []


NEEDS_ENGINE = """
import pytest

@pytest.mark.docker
def test_engine():
    pass
"""


@pytest.mark.parametrize(
    ("ci", "outcome", "code"),
    [("true", "1 error", 1), ("", "1 skipped", 0)],
    ids=["ci-fails", "local-skips"],
)
def test_docker_tests_without_an_engine(tmp_path: Path, ci: str, outcome: str, code: int) -> None:
    proc = inner_pytest(tmp_path, NEEDS_ENGINE, CI=ci, DOCKER_HOST="unix:///nonexistent.sock")
    assert outcome in proc.stdout, proc.stdout
    assert proc.returncode == code, proc.stdout
    if ci:
        assert "CI=true and no Docker engine answers" in proc.stdout


def obj(kind: str, session: str, name: str = "x", ref: str = "") -> DockerObject:
    return DockerObject(kind, ref or name, name, session)


def test_leak_rules() -> None:
    mine, derived = obj("network", "t-a-123abc"), obj("container", "t-a-123abc-b")
    unlabelled = obj("container", "", name="aifo-t-a-123abc-web")
    others = obj("network", "t-other-999999", ref="n1")
    old = obj("volume", "t-old-000000", ref="v1")
    user = obj("network", "myproject", ref="n2")
    every = [mine, derived, unlabelled, others, old, user]
    at_start = {("volume", "v1")}

    # Locally the engine may be shared with other runs: only this run's sessions count.
    assert find_leaks(every, {"t-a-123abc"}, at_start, ci=False) == [mine, derived, unlabelled]
    # In CI the engine is ours: any `t-` object created during the run counts too.
    assert find_leaks(every, {"t-a-123abc"}, at_start, ci=True) == [
        mine,
        derived,
        unlabelled,
        others,
    ]
    assert find_leaks(every, set(), at_start, ci=False) == []


def test_session_names_are_unique_dns_labels(new_session_name: Callable[[], str]) -> None:
    names = {new_session_name() for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert re.fullmatch(r"t-[a-z0-9]([a-z0-9-]*[a-z0-9])?", name), name
        assert len(f"aifo-{name}-toolchain-python") <= 63
