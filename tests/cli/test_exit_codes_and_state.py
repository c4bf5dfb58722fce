"""Exit codes and messages as documented; state folders only from commands that write state."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

import click
import pytest

from aifo.apply.lock import SessionLock
from aifo.cli import cli
from aifo.state.audit import AUDIT_FILE
from aifo.state.folder import forget_session, session_dir
from tests.cli.helpers import aifo, idle_spec


def test_help_lists_every_exit_code() -> None:
    out = aifo("--help").stdout
    for code in ("0 success", "1 the operation failed", "2 invalid", "130", "1 error, 2 changes"):
        assert code in " ".join(out.split()), code


def test_every_option_of_every_command_has_help() -> None:
    ctx = click.Context(cli)
    missing = [("aifo", p.opts) for p in cli.params if isinstance(p, click.Option) and not p.help]
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None and command.help, name
        missing += [
            (name, p.opts) for p in command.params if isinstance(p, click.Option) and not p.help
        ]
    assert missing == []


def _answer_in_a_terminal(argv: list[str], answer: bytes, env: dict[str, str]) -> tuple[int, str]:
    """Run `aifo ARGV` on a pseudo-terminal, type `answer` at its prompt; (exit code, output)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: aifo on the terminal
        os.execve(sys.executable, [sys.executable, "-m", "aifo", *argv], env)
    seen = b""
    while b"[y/N]" not in seen:
        chunk = os.read(fd, 4096)
        assert chunk, seen
        seen += chunk
    os.write(fd, answer)
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


@pytest.mark.docker
def test_no_at_the_destroy_prompt_exits_1_and_removes_nothing(
    session_name: str, state_dir: Path
) -> None:
    made = subprocess.run(
        ["docker", "network", "create", "--label", f"io.aifo.session={session_name}",
         f"aifo-{session_name}-net"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    env = {**os.environ, "AIFO_STATE_DIR": str(state_dir)}
    code, out = _answer_in_a_terminal(["destroy", "--session", session_name], b"n\n", env)
    assert code == 1, out
    assert "Cancelled; nothing was removed." in out
    kept = subprocess.run(
        ["docker", "network", "inspect", f"aifo-{session_name}-net"], capture_output=True
    )
    assert kept.returncode == 0


@pytest.mark.docker
@pytest.mark.slow
def test_read_only_commands_leave_no_state_folder(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    spec = idle_spec(session_name).replace(
        "    workspace: false\n",
        "    workspace: false\n    env:\n      TOKEN: {from_host: T_TOKEN, secret: true, "
        "required: false}\n",
    )
    (tmp_path / "aifo.yaml").write_text(spec)
    for argv in (["status"], ["plan"], ["validate"], ["config"], ["graph"], ["ls"], ["doctor"]):
        proc = aifo(*argv, cwd=tmp_path)
        assert proc.returncode == 0, (argv, proc.stderr)
    assert aifo("status", "--session", "t-never-existed", cwd=tmp_path).returncode == 0
    assert not (state_dir / "sessions").exists() or not any((state_dir / "sessions").iterdir())


@pytest.mark.docker
@pytest.mark.slow
def test_destroy_removes_transient_state_and_keeps_the_audit_log(
    session_name: str, state_dir: Path, tmp_path: Path, busybox_image: str
) -> None:
    (tmp_path / "aifo.yaml").write_text(idle_spec(session_name, busybox_image))
    assert aifo("apply", "--yes", cwd=tmp_path).returncode == 0
    folder = state_dir / "sessions" / session_name
    assert (folder / "lock").exists() and (folder / "applied.json").exists()
    (folder / AUDIT_FILE).write_text('{"kind": "route"}\n')
    destroyed = aifo("destroy", "--yes", cwd=tmp_path)
    assert destroyed.returncode == 0, destroyed.stderr
    assert sorted(p.name for p in folder.iterdir()) == [AUDIT_FILE]
    (folder / AUDIT_FILE).unlink()
    assert aifo("destroy", "--yes", cwd=tmp_path).returncode == 0  # nothing left: folder goes
    assert not folder.exists()


def test_forgetting_a_session_keeps_only_what_its_owners_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIFO_STATE_DIR", str(tmp_path))
    folder = session_dir("s")
    for name in (AUDIT_FILE, "lock", "journal.failed-1-2.jsonl"):
        (folder / name).write_text("x")
    forget_session("s", keep=(AUDIT_FILE,))
    assert sorted(p.name for p in folder.iterdir()) == [AUDIT_FILE]


def test_a_waiter_relocks_when_destroy_deleted_the_lock_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIFO_STATE_DIR", str(tmp_path))
    directory = session_dir("s")
    holder = SessionLock(directory, "s", 5.0)
    holder.acquire()
    got: list[int] = []

    def wait() -> None:
        with SessionLock(directory, "s", 5.0) as lock:
            assert lock._handle is not None
            got.append(os.fstat(lock._handle.fileno()).st_ino)
            got.append(os.stat(lock.path).st_ino)

    waiter = threading.Thread(target=wait)
    waiter.start()
    forget_session("s")  # destroy, under the lock
    holder.release()
    waiter.join(10)
    assert len(got) == 2 and got[0] == got[1]  # the waiter holds the file that is there


def test_top_level_help_shows_every_summary_whole_at_80_columns() -> None:
    import os

    out = subprocess.run(
        [sys.executable, "-m", "aifo", "--help"],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"}, check=True,
    ).stdout  # fmt: skip
    commands = out.split("Commands:", 1)[1].strip().splitlines()
    assert len(commands) == len(cli.list_commands(click.Context(cli)))
    assert all(len(line) <= 80 and not line.endswith("...") for line in commands), commands
