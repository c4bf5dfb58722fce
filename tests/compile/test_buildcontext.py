"""Build-context hashing follows what `docker build` would send."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aifo.host.buildcontext import context_files, context_hash


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


FILES = {
    "Dockerfile": "x",
    "keep.txt": "",
    "x.log": "",
    "a/b.txt": "",
    "a/c.log": "",
    "a/deep/d.log": "",
    "build/out.o": "",
    "build/keep.me": "",
}
ALL = sorted([*FILES, ".dockerignore", "a/", "a/deep/", "build/"])


def without(*gone: str) -> list[str]:
    return sorted(set(ALL) - set(gone))


@pytest.mark.parametrize(
    ("ignore", "expected"),
    [
        ("", ALL),
        ("*.log\n", without("x.log")),  # `*` stays within one folder
        ("**/*.log\n", without("x.log", "a/c.log", "a/deep/d.log")),
        ("a/**/*.log\n", without("a/c.log", "a/deep/d.log")),  # `**` may match no folder
        ("a\n", without("a/", "a/b.txt", "a/c.log", "a/deep/", "a/deep/d.log")),
        ("build/\n!build/keep.me\n", without("build/", "build/out.o")),  # re-included
        ("# comment\n\n*\n!keep.txt\n", [".dockerignore", "Dockerfile", "keep.txt"]),
        ("Dockerfile\n.dockerignore\n*.txt\n", without("keep.txt")),  # always sent
        ("/x.log\na/*.txt\n", without("x.log", "a/b.txt")),
        ("?.log\n", without("x.log")),
        ("[xy].log\n", without("x.log")),
        ("[!x].log\n", ALL),
        ("  a/deep  \n", without("a/deep/", "a/deep/d.log")),  # surrounding blanks trimmed
        ("*\n!a/deep/*.log\n", [".dockerignore", "Dockerfile", "a/deep/d.log"]),
    ],
)
def test_dockerignore_rules(tmp_path: Path, ignore: str, expected: list[str]) -> None:
    ctx = make(tmp_path, FILES, ignore)
    assert context_files(ctx) == sorted(expected)


def test_a_dockerfile_elsewhere_is_always_sent(tmp_path: Path) -> None:
    ctx = make(tmp_path, {"docker/app.Dockerfile": "x", "src/a": ""}, "docker\n")
    assert context_files(ctx, "docker/app.Dockerfile") == [
        ".dockerignore",
        "docker/app.Dockerfile",
        "src/",
        "src/a",
    ]


def test_symlinks_count_by_target_and_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big").write_text("not sent")
    ctx = make(tmp_path / "ctx", {"Dockerfile": "x", "data": "1"})
    os.symlink("data", ctx / "link")
    os.symlink(str(outside), ctx / "dirlink")
    assert context_files(ctx) == ["Dockerfile", "data", "dirlink", "link"]
    before = context_hash(ctx)
    (outside / "big").write_text("changed")  # not followed: no effect
    assert context_hash(ctx) == before
    os.remove(ctx / "link")
    os.symlink("Dockerfile", ctx / "link")
    assert context_hash(ctx) != before


def test_folders_count_by_name_and_mode(tmp_path: Path) -> None:
    ctx = make(tmp_path, {"Dockerfile": "x"})
    before = context_hash(ctx)
    (ctx / "empty").mkdir()
    with_folder = context_hash(ctx)
    assert with_folder != before
    os.chmod(ctx / "empty", 0o700)
    assert context_hash(ctx) != with_folder


def test_a_fifo_is_hashed_without_reading_it(tmp_path: Path) -> None:
    ctx = make(tmp_path, {"Dockerfile": "x"})
    os.mkfifo(ctx / "pipe")
    assert "pipe" in context_files(ctx)
    assert len(context_hash(ctx)) == 64  # returns: opening a fifo would block forever


def test_mtime_alone_changes_nothing(tmp_path: Path) -> None:
    ctx = make(tmp_path, {"Dockerfile": "x", "a": "1"})
    before = context_hash(ctx)
    os.utime(ctx / "a", (1, 1))
    assert context_hash(ctx) == before


def test_a_fifo_dockerignore_is_refused_not_waited_on(tmp_path: Path) -> None:
    """The hash reads .dockerignore: a FIFO there must not hang validate or plan (issue 13)."""
    from aifo.host.files import UnreadableFile

    os.mkfifo(tmp_path / ".dockerignore")
    with pytest.raises(UnreadableFile, match="FIFO"):
        context_hash(tmp_path)
