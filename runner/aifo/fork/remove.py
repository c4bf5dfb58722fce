"""`fork rm`: what would be lost (uncommitted work, commits no branch or remote holds), then
the fork's containers, networks, volumes, clone, branch, private repository and record.

Removal is idempotent and the record goes last: a crash halfway leaves a fork that `fork rm`
finishes. No branch but `aifo/<session>/<I>` is ever touched.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aifo.engine.git import Git
from aifo.errors import ForkError
from aifo.fork import gitsteps, records
from aifo.fork.inspect import Reader


def _kept_commits(git: Git, repo: Path, fork_branch: str) -> list[str]:
    """The main repository's branches and remotes, but the fork's own branch."""
    text = git.out(
        repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/remotes"
    )
    return [
        line.split(" ", 1)[1]
        for line in text.splitlines()
        if " " in line and line.split(" ", 1)[0] != f"refs/heads/{fork_branch}"
    ]


def at_risk(git: Git, reader: Reader) -> list[str]:
    """Why removing this fork would lose work (empty: nothing would be lost)."""
    record = reader.record
    try:
        reader.fetch()
    except ForkError as exc:
        return [exc.message]
    problems: list[str] = []
    changes = reader.changes()
    if changes:
        problems.append(f"fork {record.fork} has {len(changes)} uncommitted change(s)")
    repo = Path(record.repo)
    kept = _kept_commits(git, repo, record.branch)
    if gitsteps.branch_exists(git, repo, record.branch):
        tip = git.out(repo, "rev-parse", f"refs/heads/{record.branch}")
        only = int(git.out(repo, "rev-list", "--count", tip, "--not", *kept) or 0)
        if only and not reader.contains(tip):  # commits made on the kept branch itself
            problems.append(
                f"branch {record.branch} of the main repository has {only} commit(s) that "
                "neither the fork nor another branch or remote holds"
            )
    lost = reader.unmerged(kept)
    if lost:
        problems.append(
            f"fork {record.fork} has {lost} commit(s) that no branch or remote of the main "
            "repository holds"
        )
    return problems


def remove(git: Git, reader: Reader, destroy: Callable[[str], None]) -> None:
    """Everything of the fork, every step tried; failures reported together."""
    record = reader.record
    failures: list[str] = []
    steps: list[tuple[str, Callable[[], object]]] = [
        ("containers, networks and volumes", lambda: destroy(record.fork_session)),
        ("clone", lambda: gitsteps.remove_clone(Path(record.path))),
        ("branch", lambda: gitsteps.delete_branch(git, Path(record.repo), record.branch)),
        ("private repository", lambda: gitsteps.remove_tree(reader.gitdir)),
        ("private index", lambda: reader.index.unlink(missing_ok=True)),
    ]
    for what, step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - try every step, report them together
            failures.append(f"{what}: {exc}")
    if failures:
        raise ForkError(
            f"fork {record.fork} was not removed completely:\n  - " + "\n  - ".join(failures),
            hint="fix what is named, then run `aifo fork rm` again (it is idempotent)",
        )
    records.forget(reader.folder, record.fork)
