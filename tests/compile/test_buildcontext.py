"""Build-context hashing follows what `docker build` would send."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.buildcontext import context_files, context_hash


def make(tmp: Path, files: dict[str, str], ignore: str | None = None) -> Path:
    for rel, text in files.items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if ignore is not None:
        (tmp / ".dockerignore").write_text(ignore)
    return tmp


def test_changed_file_changes_the_hash(tmp_path: Path) -> None:
    ctx = make(tmp_path, {"Dockerfile": "FROM scratch\n", "src/a.txt": "1"})
    before = context_hash(ctx)
    (ctx / "src/a.txt").write_text("2")
    assert context_hash(ctx) != before


def test_ignored_file_does_not_change_the_hash(tmp_path: Path) -> None:
    ctx = make(tmp_path, {"Dockerfile": "x", "build/out.o": "1", "keep.txt": "k"}, "build/\n")
    before = context_hash(ctx)
    (ctx / "build/out.o").write_text("2")
    assert context_hash(ctx) == before


def test_mode_and_new_files_change_the_hash(tmp_path: Path) -> None:
    ctx = make(tmp_path, {"Dockerfile": "x", "run.sh": "echo"})
    before = context_hash(ctx)
    os.chmod(ctx / "run.sh", 0o755)
    after_chmod = context_hash(ctx)
    assert after_chmod != before
    (ctx / "new.txt").write_text("")
    assert context_hash(ctx) != after_chmod


@pytest.mark.parametrize(
    ("ignore", "expected"),
    [
        ("*.log\n", [".dockerignore", "Dockerfile", "a/b.txt", "a/c.log", "keep.txt"]),
        ("**/*.log\n", [".dockerignore", "Dockerfile", "a/b.txt", "keep.txt"]),
        ("a\n", [".dockerignore", "Dockerfile", "keep.txt", "x.log"]),
        ("# comment\n\n*\n!keep.txt\n", [".dockerignore", "Dockerfile", "keep.txt"]),
        (
            "Dockerfile\n.dockerignore\n*.txt\n",
            [".dockerignore", "Dockerfile", "a/b.txt", "a/c.log", "x.log"],
        ),
        ("/x.log\na/*.txt\n", [".dockerignore", "Dockerfile", "a/c.log", "keep.txt"]),
    ],
)
def test_dockerignore_rules(tmp_path: Path, ignore: str, expected: list[str]) -> None:
    files = {"Dockerfile": "x", "keep.txt": "", "x.log": "", "a/b.txt": "", "a/c.log": ""}
    ctx = make(tmp_path, files, ignore)
    assert context_files(ctx) == sorted(expected)
