"""Fast attach: exec/run/shell/logs/status reuse the compiled session while the spec and its
inputs are unchanged (aifo.attachcache); `aifo exec NAME -- CMD` then loads neither click nor
the spec stage (aifo.commands.fastexec)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aifo import attachcache
from aifo.state import forget_session
from tests.cli.helpers import aifo, idle_spec

SPEC = """\
version: 1
session: fast
extends: [./base.yaml]
agents:
  a:
    image: busybox:latest
    pull: never
    workspace: false
    env:
      MODE: ${FAST_MODE:-one}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIFO_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("FAST_MODE", raising=False)
    (tmp_path / "aifo.yaml").write_text(SPEC)
    (tmp_path / "base.yaml").write_text("networks:\n  sandbox: {internal: true}\n")
    (tmp_path / ".env").write_text("UNUSED=1\n")
    return tmp_path


def _cached(project: Path) -> bool:
    return attachcache.lookup(project / "aifo.yaml") is not None


def test_a_compiled_session_is_reused_until_an_input_changes(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = project / "aifo.yaml"
    assert not _cached(project)
    first = attachcache.load_session(spec)
    assert _cached(project) and attachcache.lookup(spec) == first
    monkeypatch.setenv("UNRELATED_VAR", "x")  # not named by the spec: still a hit
    assert _cached(project)
    monkeypatch.setenv("FAST_MODE", "two")  # named by ${FAST_MODE}: a miss
    assert not _cached(project)
    monkeypatch.delenv("FAST_MODE")
    assert _cached(project)
    (project / "base.yaml").write_text("networks:\n  sandbox: {internal: false}\n")
    assert not _cached(project)  # a profile changed
    attachcache.load_session(spec)
    (project / ".env").write_text("UNUSED=2\n")
    assert not _cached(project)  # the .env changed
    attachcache.load_session(spec)
    spec.write_text(SPEC.replace("MODE", "MODE2"))
    assert not _cached(project)  # the spec changed
    assert attachcache.lookup(spec, session="fast-2") is None  # another --session: its own key


def test_no_secret_value_is_cached(project: Path) -> None:
    spec = project / "aifo.yaml"
    spec.write_text(SPEC + "      TOKEN: {value: literal-secret-42, secret: true}\n")
    attachcache.load_session(spec)
    assert not _cached(project)
    found = [p.read_bytes() for p in attachcache.folder().glob("*.pickle")]
    assert all(b"literal-secret-42" not in data for data in found)


def test_untrusted_entries_are_ignored_and_destroy_forgets(project: Path) -> None:
    attachcache.load_session(project / "aifo.yaml")
    [entry] = attachcache.folder().glob("*.fast.pickle")
    entry.chmod(0o666)
    assert not _cached(project)
    entry.chmod(0o600)
    assert _cached(project)
    targets = attachcache.folder() / "targets.fast.json"
    targets.write_text("{}")
    forget_session("fast")
    assert list(attachcache.folder().glob("*.fast.pickle")) == []
    assert not targets.exists()  # nor the containers `aifo exec` remembered


PROBE = """
import sys
sys.argv = ["aifo", "exec", "hello", "--", "sh", "-c", "exit 7"]
from aifo.entry import main
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = [m for m in ("click", "yaml", "jsonschema", "rich", "networkx", "aifo.spec.profiles",
                    "aifo.compile", "aifo.secrets") if m in sys.modules]
print("CODE=%s HEAVY=%s" % (code, ",".join(heavy)))
"""


@pytest.mark.docker
@pytest.mark.slow
def test_exec_by_name_takes_the_fast_path(
    session_name: str, state_dir: Path, tmp_path: Path, busybox_image: str
) -> None:
    (tmp_path / "aifo.yaml").write_text(idle_spec(session_name, busybox_image))
    assert aifo("apply", "--yes", cwd=tmp_path).returncode == 0
    env = {**os.environ, "AIFO_STATE_DIR": str(state_dir)}

    def probe() -> str:
        done = subprocess.run(
            [sys.executable, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]

    assert probe().startswith("CODE=7 HEAVY=click")  # first run: compiles and caches
    assert probe() == "CODE=7 HEAVY="  # then: nothing heavy, same exit code
    stopped = subprocess.run(["docker", "stop", "-t", "0", f"aifo-{session_name}-hello"])
    assert stopped.returncode == 0
    slow = aifo("exec", "hello", "--", "true", cwd=tmp_path)  # not running: the full message
    assert slow.returncode == 1 and "not running" in slow.stderr
    assert "aifo apply" in slow.stderr
