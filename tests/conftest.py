"""Shared fixtures. Docker-marked tests talk to a real engine and clean up by label.

Every Docker test gets a unique session name (`t-…`, from `session_name` or `new_session_name`);
at teardown, everything labelled with it is removed, even when the test failed. At the end of the
run, objects of this run's test sessions that are still there (by `io.aifo.session` label, or
by an `aifo-<session>-` name) are reported as leaks, removed, and the run fails. With CI=true
(an engine of its own) any `t-` object created during the run counts.

Plain subprocess calls to the docker CLI only: collecting tests must stay fast, and nothing here
may depend on the code under test.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

TEST_PREFIX = "t-"
TEST_IMAGE = "aifo-test/busybox:latest"
SESSION_LABEL = "io.aifo.session"

# kind → (list command printing "ID|NAME|SESSION", remove command)
_KINDS: dict[str, tuple[list[str], list[str]]] = {
    "container": (
        ["docker", "ps", "-a", "--format", '{{.ID}}|{{.Names}}|{{.Label "io.aifo.session"}}'],
        ["docker", "rm", "-f", "-v"],
    ),
    "network": (
        ["docker", "network", "ls", "--format", '{{.ID}}|{{.Name}}|{{.Label "io.aifo.session"}}'],
        ["docker", "network", "rm"],
    ),
    "volume": (
        ["docker", "volume", "ls", "--format", '{{.Name}}|{{.Name}}|{{.Label "io.aifo.session"}}'],
        ["docker", "volume", "rm", "-f"],
    ),
}

_ISSUED = pytest.StashKey[set[str]]()  # session names handed out during this run
_AT_START = pytest.StashKey[set[tuple[str, str]]]()  # (kind, id) of `t-` objects at the start


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _run(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


@functools.cache
def engine_available() -> bool:
    try:
        proc = _run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


@dataclass(frozen=True)
class DockerObject:
    kind: str
    id: str
    name: str
    session: str

    def __str__(self) -> str:
        owner = f"session {self.session}" if self.session else "no io.aifo.session label"
        return f"{self.kind} {self.name} ({owner})"


def list_objects(label_filter: str | None = None) -> list[DockerObject]:
    """Containers, networks and volumes (optionally only those matching a label filter)."""
    found: list[DockerObject] = []
    for kind, (list_cmd, _) in _KINDS.items():
        argv = [*list_cmd, "--filter", f"label={label_filter}"] if label_filter else list_cmd
        for line in _run(argv, timeout=60).stdout.splitlines():
            ref, name, session = (line.split("|") + ["", ""])[:3]
            found.append(DockerObject(kind, ref, name, session))
    return found


def remove_objects(objects: list[DockerObject]) -> list[str]:
    """Remove containers first, then networks, then volumes; one call per kind. Return errors."""
    errors: list[str] = []
    for kind, (_, rm_cmd) in _KINDS.items():
        refs = [o.id for o in objects if o.kind == kind]
        if refs:
            proc = _run([*rm_cmd, *refs])
            if proc.returncode != 0:
                errors.append(f"{' '.join(rm_cmd)}: {proc.stderr.strip()}")
    return errors


def remove_guard_rules(name: str) -> list[str]:
    """Delete the host guard rules (INPUT, comment `aifo-guard session=<name> …`) a test left."""
    import shlex

    errors: list[str] = []
    for tool in ("iptables", "ip6tables"):
        try:
            listing = _run([tool, "-w", "10", "-S", "INPUT"], timeout=30).stdout
        except OSError:
            continue
        for line in listing.splitlines():
            words = shlex.split(line) if "aifo-guard" in line else []
            comment = words[words.index("--comment") + 1] if "--comment" in words else ""
            if words[:2] == ["-A", "INPUT"] and comment.split(" ")[1:2] == [f"session={name}"]:
                proc = _run([tool, "-w", "10", "-D", "INPUT", *words[2:]], timeout=30)
                if proc.returncode != 0:
                    errors.append(f"{tool} -D: {proc.stderr.strip()}")
    return errors


def remove_session(name: str) -> list[str]:
    """Remove everything labelled `io.aifo.session=<name>`, and its host guard rules; return
    errors."""
    return remove_objects(list_objects(f"{SESSION_LABEL}={name}")) + remove_guard_rules(name)


def _belongs_to(obj: DockerObject, sessions: set[str]) -> bool:
    return any(
        obj.session.startswith(s) or obj.name.lstrip("/").startswith(f"aifo-{s}") for s in sessions
    )


def find_leaks(
    objects: list[DockerObject],
    issued: set[str],
    at_start: set[tuple[str, str]],
    ci: bool,
) -> list[DockerObject]:
    """Objects left by this run: of an issued session (or named after one); in CI, any `t-`."""
    leaks = []
    for obj in objects:
        if _belongs_to(obj, issued):
            leaks.append(obj)
        elif ci and obj.session.startswith(TEST_PREFIX) and (obj.kind, obj.id) not in at_start:
            leaks.append(obj)
    return leaks


# --- hooks -------------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    # Also declared in pyproject.toml; repeated here so a copy of this file works on its own.
    config.addinivalue_line("markers", "docker: needs a reachable Docker Engine")
    config.addinivalue_line("markers", "slow: long-running test")


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_ISSUED] = set()
    session.config.stash[_AT_START] = set()
    if in_ci() and engine_available():
        session.config.stash[_AT_START] = {
            (o.kind, o.id) for o in list_objects(SESSION_LABEL) if o.session.startswith(TEST_PREFIX)
        }


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("docker") is None or engine_available():
        return
    if in_ci():
        # A green CI run must mean the engine tests ran.
        pytest.fail("CI=true and no Docker engine answers (run scripts/ensure-docker)")
    pytest.skip("no Docker engine answers (run scripts/ensure-docker)")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    issued = session.config.stash.get(_ISSUED, set())
    if not (issued or in_ci()) or not engine_available():
        return
    leaks = find_leaks(list_objects(), issued, session.config.stash.get(_AT_START, set()), in_ci())
    if not leaks:
        return
    errors = remove_objects(leaks)
    lines = [
        "Docker objects of test sessions were left behind (fix the test's cleanup):",
        *(f"  {leak}" for leak in leaks),
        "They have been removed." if not errors else "Removing them failed too:",
        *(f"  {err}" for err in errors),
    ]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("=", "leaked Docker objects", red=True)
        for line in lines:
            reporter.write_line(line)
    else:
        print("\n".join(lines))
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# --- fixtures ----------------------------------------------------------------------------------


def _issue(request: pytest.FixtureRequest) -> str:
    """A unique `t-<test or module>-<hex6>` name, recorded for the run's leak check."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:20].strip("-") or "x"
    name = f"{TEST_PREFIX}{stem}-{secrets.token_hex(3)}"
    request.config.stash.setdefault(_ISSUED, set()).add(name)
    return name


@pytest.fixture
def new_session_name(request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """Hand out unique, DNS-safe test session names; each one's objects go at teardown."""
    names: list[str] = []

    def new() -> str:
        names.append(_issue(request))
        return names[-1]

    yield new
    if names and engine_available():
        if len(names) == 1:
            errors = remove_session(names[0])
        else:
            mine = set(names)
            errors = remove_objects([o for o in list_objects(SESSION_LABEL) if o.session in mine])
            errors += [e for n in names for e in remove_guard_rules(n)]
        if errors:
            # Not a test failure by itself: the run-level leak check reports what stayed.
            print("session cleanup failed:", *errors, sep="\n  ")


@pytest.fixture
def session_name(new_session_name: Callable[[], str]) -> str:
    """A unique, DNS-safe session name (`t-<test>-<hex6>`); its objects go at teardown."""
    return new_session_name()


@pytest.fixture(scope="module")
def module_session_name(request: pytest.FixtureRequest) -> Iterator[str]:
    """One session name for a whole module (its tests share one applied session); everything
    labelled with it goes at the module's teardown, even when a test failed."""
    name = _issue(request)
    yield name
    if engine_available():
        errors = remove_session(name)
        if errors:
            print("session cleanup failed:", *errors, sep="\n  ")


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`AIFO_STATE_DIR` at tmp_path/state, not made yet: hostile-state tests make it their way."""
    path = tmp_path / "state"
    monkeypatch.setenv("AIFO_STATE_DIR", str(path))
    return path


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file of the user's that a planted link points at: it must come out unchanged."""
    path = tmp_path / "victim.txt"
    path.write_text("precious\n")
    return path


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh `AIFO_STATE_DIR`, beside tmp_path (not in it: tests mount tmp_path as the
    workspace, and no host path may expose aifo's state folder)."""
    path = tmp_path.parent / f"{tmp_path.name}.state"
    path.mkdir()
    monkeypatch.setenv("AIFO_STATE_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def busybox_image() -> str:
    """The seeded test image (FROM scratch + busybox-static)."""
    if not engine_available():
        pytest.fail("no Docker engine answers (run scripts/ensure-docker)")
    if _run(["docker", "image", "inspect", TEST_IMAGE], timeout=60).returncode != 0:
        pytest.fail(f"{TEST_IMAGE} is missing: run scripts/seed-images")
    return TEST_IMAGE
