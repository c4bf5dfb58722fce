"""Hostile state folders (issue 22 case 2): another user's folder, a folder others may write,
planted links at the files aifo writes, planted and malformed journals. Tests run as root, so
another user is simulated with os.chown to an unused uid."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aifo.apply.journal import Journal, load
from aifo.apply.lock import SessionLock, held_by
from aifo.attach import cache as attachcache
from aifo.errors import JournalRefused, StateError
from aifo.state import audit
from aifo.state.folder import session_dir
from aifo.state.secrets import session_key
from aifo.state.specrecord import read_spec_path, record_spec_path

OTHER_UID = 4242
SPEC = "version: 1\nsession: hostile\nagents:\n  a: {image: busybox:latest, workspace: false}\n"


def _plan(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "aifo.yaml").write_text(SPEC)
    return subprocess.run(
        [sys.executable, "-m", "aifo", "plan"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        env={**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"},
    )  # fmt: skip


def test_a_state_folder_of_another_user_is_refused_with_the_fix(
    state: Path, tmp_path: Path
) -> None:
    state.mkdir(mode=0o700)
    os.chown(state, OTHER_UID, OTHER_UID)
    with pytest.raises(StateError, match=f"belongs to uid {OTHER_UID}") as caught:
        session_dir("s")
    assert f"chown -R {os.getuid()} {state}" in str(caught.value)
    done = _plan(tmp_path)  # the CLI: exit 1, the message and its fix, no traceback
    assert done.returncode == 1, done.stderr
    assert f"belongs to uid {OTHER_UID}" in done.stderr and "chown" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (state / "sessions").exists()  # nothing was created in it


@pytest.mark.parametrize("level", [(), ("sessions",), ("sessions", "s"), ("cache",)])
def test_a_state_folder_others_may_write_is_refused_with_the_fix(
    state: Path, level: tuple[str, ...]
) -> None:
    folder = state.joinpath(*level)
    folder.mkdir(parents=True, mode=0o700)
    folder.chmod(0o777)
    with pytest.raises(StateError, match=r"writable by group or others \(mode 0777\)") as caught:
        session_dir("s")
        attachcache.folder(create=True)
        session_dir("s", create=False)
    assert f"chmod go-w {folder}" in str(caught.value)


def test_a_state_folder_that_is_a_link_is_refused(state: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    state.mkdir(mode=0o700)
    (state / "sessions").symlink_to(elsewhere)
    with pytest.raises(StateError, match="is a symbolic link"):
        session_dir("s")
    assert list(elsewhere.iterdir()) == []


def test_a_link_planted_at_the_lock_file_is_refused_never_truncated(
    state: Path, victim: Path
) -> None:
    folder = session_dir("s")
    (folder / "lock").symlink_to(victim)
    with pytest.raises(StateError, match="symbolic link"):
        SessionLock(folder, "s", 0.1).acquire()
    with pytest.raises(StateError, match="symbolic link"):
        held_by(folder)
    assert victim.read_text() == "precious\n"


def test_a_lock_file_of_another_user_is_refused(state: Path) -> None:
    folder = session_dir("s")
    (folder / "lock").write_text("1\n")
    os.chown(folder / "lock", OTHER_UID, OTHER_UID)
    with pytest.raises(StateError, match=f"belongs to uid {OTHER_UID}"):
        SessionLock(folder, "s", 0.1).acquire()


def test_a_link_planted_at_the_spec_record_is_replaced_never_followed(
    state: Path, victim: Path
) -> None:
    folder = session_dir("s")
    (folder / "spec").symlink_to(victim)
    assert read_spec_path("s") is None  # not followed to read either
    record_spec_path("s", "/work/aifo.yaml")
    assert victim.read_text() == "precious\n"
    assert not (folder / "spec").is_symlink() and read_spec_path("s") == "/work/aifo.yaml"


def test_links_planted_at_the_audit_log_and_session_key_are_refused(
    state: Path, victim: Path
) -> None:
    folder = session_dir("s")
    (folder / "audit.jsonl").symlink_to(victim)
    (folder / "secret.key").symlink_to(victim)
    with pytest.raises(StateError, match="symbolic link"):
        audit.record("s", "route", {"argv": ["x"]})
    with pytest.raises(StateError, match="symbolic link"):
        list(audit.read("s"))
    with pytest.raises(StateError, match="symbolic link"):
        session_key("s")
    assert victim.read_text() == "precious\n"


def _journal(path: Path, session: str = "s", **begin: object) -> None:
    header = {"session": session, "pid": 1, "before": {}, **begin}
    journal = Journal.create(path, header)
    journal.append({"type": "step", "seq": 1, "op": "create_volume", "rid": "volume/v",
                    "args": {"name": "victim-volume"},
                    "undo": {"op": "discard_volume", "args": {"name": "victim-volume"}}},
                   sync=True)  # fmt: skip
    journal.close()


def test_a_journal_of_another_user_or_a_link_is_refused(state: Path, victim: Path) -> None:
    folder = session_dir("s")
    path = folder / "journal.jsonl"
    _journal(path)
    assert load(path, "s").steps[0].undo is not None
    os.chown(path, OTHER_UID, OTHER_UID)
    with pytest.raises(JournalRefused, match=f"belongs to uid {OTHER_UID}"):
        load(path, "s")
    path.unlink()
    path.symlink_to(victim)
    with pytest.raises(JournalRefused, match="symbolic link"):
        load(path, "s")


@pytest.mark.parametrize(
    "records",
    [
        [{"type": "begin", "version": 1, "session": "s"}, {"type": "step", "seq": "1"}],
        [{"type": "begin", "version": 1, "session": "s"}, {"type": "eval", "code": "x"}],
        [{"type": "begin", "version": 1, "session": 7}],
        [{"type": "begin", "version": 99, "session": "s"}],
        [{"type": "begin", "version": 1, "session": "s"},
         {"type": "step", "seq": 1, "op": "x", "undo": {"op": ["discard_volume"]}}],
        [{"type": "begin", "version": 1, "session": "s"},
         {"type": "commit", "ops": "remove everything"}],
        [{"type": "begin", "version": 1, "session": "other"}],  # not the session recovered
    ],
)  # fmt: skip
def test_a_malformed_journal_is_refused_not_run(state: Path, records: list[object]) -> None:
    path = session_dir("s") / "journal.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + "\n")
    with pytest.raises(JournalRefused):
        load(path, "s")


def test_unknown_operations_refuse_the_whole_journal_before_anything_runs(state: Path) -> None:
    from aifo.apply.recover import recover

    path = session_dir("s") / "journal.jsonl"
    journal = Journal.create(path, {"session": "s", "pid": 1, "before": {}})
    journal.append({"type": "step", "seq": 1, "op": "x", "rid": "r", "args": {},
                    "undo": {"op": "discard_network", "args": {"name": "n"}}},
                   {"type": "step", "seq": 2, "op": "x", "rid": "r", "args": {},
                    "undo": {"op": "all", "args": {"ops": [{"op": "os.system"}]}}})  # fmt: skip
    journal.close()

    class NoEngine:  # any call would be a step run
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"the engine was called: {name}")

    with pytest.raises(JournalRefused, match="unknown journal operation 'os.system'"):
        recover(NoEngine(), path, "s")  # type: ignore[arg-type]
    assert path.exists()


def test_nothing_in_aifo_can_load_code_from_disk() -> None:
    """No module that turns bytes into code objects (the former code cache used marshal, the
    attach cache pickle), and no `exec`/`eval`/`compile` of anything: what aifo reads back from
    its state folder is plain data."""
    import ast

    root = Path(__file__).resolve().parents[2] / "runner" / "aifo"
    found = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                names = [f"{node.func.id}()"]
            bad = {"pickle", "marshal", "shelve", "dill", "exec()", "eval()", "compile()"}
            found += [f"{path.relative_to(root)}: {n}" for n in names if n.split(".")[0] in bad]
    assert found == []
