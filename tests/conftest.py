"""Shared fixtures. Docker-marked tests talk to a real engine and clean up by label.

Every Docker test gets a unique session name (`t-…`); at teardown, everything labelled with it is
removed, even when the test failed. At the end of the run, anything still labelled with a test
session is reported as a leak, removed, and the run fails.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

TEST_PREFIX = "t-"
TEST_IMAGE = "aifo-test/busybox:latest"
_KINDS = (
    ("container", ["docker", "ps", "-aq"], ["docker", "rm", "-f", "-v"]),
    ("network", ["docker", "network", "ls", "-q"], ["docker", "network", "rm"]),
    ("volume", ["docker", "volume", "ls", "-q"], ["docker", "volume", "rm", "-f"]),
)


def _docker(*argv: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *argv], capture_output=True, text=True, check=check, timeout=120
    )


def engine_available() -> bool:
    try:
        return _docker("info", "--format", "{{.ServerVersion}}").returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def remove_labelled(label_filter: str) -> list[str]:
    """Remove every container, network and volume matching the filter; return what was found."""
    found: list[str] = []
    for kind, list_cmd, rm_cmd in _KINDS:
        out = subprocess.run(
            [*list_cmd, "--filter", f"label={label_filter}"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.split()
        if out:
            found += [f"{kind} {ref}" for ref in out]
            subprocess.run([*rm_cmd, *out], capture_output=True, timeout=120)
    return found


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not any(item.get_closest_marker("docker") for item in items):
        return
    if engine_available():
        return
    if os.environ.get("CI") == "true":
        # Fail, never skip, in CI: a green run must mean the engine tests ran.
        marker = pytest.mark.usefixtures("_engine_required")
    else:
        marker = pytest.mark.skip(reason="no Docker engine (run scripts/ensure-docker)")
    for item in items:
        if item.get_closest_marker("docker"):
            item.add_marker(marker)


@pytest.fixture
def _engine_required() -> None:
    pytest.fail("CI=true and the Docker engine is unreachable (scripts/ensure-docker)")


_LIST_LABELLED = (
    ("container", ["docker", "ps", "-a", "--format", '{{.Label "io.aifo.session"}} {{.Names}}']),
    ("network", ["docker", "network", "ls", "--format", '{{.Label "io.aifo.session"}} {{.Name}}']),
    ("volume", ["docker", "volume", "ls", "--format", '{{.Label "io.aifo.session"}} {{.Name}}']),
)


def _leftovers() -> list[str]:
    """Objects still labelled with a test session (`t-…`)."""
    if not engine_available():
        return []
    leaks: list[str] = []
    for kind, cmd in _LIST_LABELLED:
        out = subprocess.run(
            [*cmd, "--filter", "label=io.aifo.session"], capture_output=True, text=True, timeout=60
        ).stdout
        for line in out.splitlines():
            session, _, name = line.partition(" ")
            if session.startswith(TEST_PREFIX):
                leaks.append(f"{kind} {name} (session {session})")
    return leaks


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("AIFO_SKIP_LEAK_CHECK") == "1":
        return
    leaks = _leftovers()
    if not leaks:
        return
    for session_label in sorted({leak.rsplit("(session ", 1)[1].rstrip(")") for leak in leaks}):
        remove_labelled(f"io.aifo.session={session_label}")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    text = "Docker objects of test sessions were left behind (fix the test's cleanup):\n  " + (
        "\n  ".join(leaks)
    )
    if reporter is not None:
        reporter.write_sep("=", "leaked Docker objects", red=True)
        reporter.write_line(text)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def session_name(request: pytest.FixtureRequest) -> Iterator[str]:
    """A unique, DNS-safe session name; its labelled Docker objects are removed at teardown."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:20].strip("-")
    name = f"{TEST_PREFIX}{stem}-{secrets.token_hex(3)}"
    yield name
    remove_labelled(f"io.aifo.session={name}")


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    monkeypatch.setenv("AIFO_STATE_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def busybox_image() -> str:
    if _docker("image", "inspect", TEST_IMAGE).returncode != 0:
        pytest.fail(f"{TEST_IMAGE} is missing: run scripts/seed-images")
    return TEST_IMAGE
