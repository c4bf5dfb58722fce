"""`fork new`'s own check before its commit (pure transaction logic: the engine side is a
recording fake, git is real). A SIGINT/SIGTERM can be handled late: the kernel may deliver it to
a worker thread while the main thread waits for the forks, so the handler runs only once every
fork's apply has finished. Seen in CI as "rolling back" printed, then exit 0 with the forks."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from aifo.engine.git import Git
from aifo.errors import ForkError
from aifo.fork.layout import clone_path
from aifo.fork.transaction import Request, Steps, new_forks
from tests.fork.helpers import git, make_repo


def test_a_signal_handled_after_the_forks_applied_still_rolls_back(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "s-late")
    head = git(repo, "rev-parse", "HEAD")
    applied: list[int] = []
    destroyed: list[str] = []
    cancels: list[threading.Event] = []

    def apply(number: int, clone: Path, cancel: threading.Event) -> None:
        applied.append(number)
        cancels.append(cancel)
        if len(applied) == 2:
            cancel.set()  # what the handler does, once the main thread runs it
        return None

    steps = Steps(apply=apply, destroy=destroyed.append, exists=lambda _name: False)
    request = Request(
        session="s-late", repo=repo, numbers=(1, 2), base=head, start=head,
        spec=str(repo / "aifo.yaml"),
    )  # fmt: skip
    folder = tmp_path / "state" / "forks"
    with pytest.raises(ForkError, match="interrupted") as caught:
        new_forks(request, folder, git=Git(), steps=steps)
    assert "rolled back" in caught.value.message
    assert sorted(applied) == [1, 2]
    assert sorted(destroyed) == ["s-late-f1", "s-late-f2"]  # both committed applies undone
    for number in (1, 2):
        assert not clone_path(repo, "s-late", number).exists()
        assert git(repo, "branch", "--list", f"aifo/s-late/{number}") == ""
    assert not list(folder.glob("*.json")), "no fork record"
