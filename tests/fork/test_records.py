"""Fork records are state files: written through an O_EXCL temporary with a random name, read
without following links and only when ours and private (issue 22's rules for the state folder)."""

from __future__ import annotations

import os
from pathlib import Path

from aifo.fork.records import ForkRecord, read_all, record_path, write


def _record(number: int = 1) -> ForkRecord:
    return ForkRecord(
        fork=number,
        session="s",
        fork_session=f"s-f{number}",
        branch=f"aifo/s/{number}",
        path="/work/repo.aifo-forks/s-f1",
        repo="/work/repo",
        base="0" * 40,
        created="2026-12-06T00:00:00Z",
        spec="/work/repo/aifo.yaml",
    )


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "forks"
    folder.mkdir(mode=0o700, parents=True)
    return folder


def test_a_write_never_truncates_a_file_planted_at_a_temporary_name(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    # the name the old writer used (`1.tmp-<pid>`), hard-linked to a file of the user's
    os.link(victim, record_path(folder, 1).with_suffix(f".tmp-{os.getpid()}"))
    write(folder, _record())
    assert victim.read_text() == "keep me"
    assert read_all(folder) == [_record()]


def test_a_record_that_is_a_link_or_not_private_is_not_read(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    elsewhere = _folder(tmp_path / "x")
    write(elsewhere, _record(2))
    os.symlink(record_path(elsewhere, 2), record_path(folder, 2))
    write(folder, _record(3))
    os.chmod(record_path(folder, 3), 0o666)
    write(folder, _record(4))
    assert [r.fork for r in read_all(folder)] == [4]
