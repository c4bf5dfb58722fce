"""The workspace's clone for a node that is not this machine (docs/swarm.md).

Compile makes the workspace a volume seeded from the workspace's folder (compile/workspace).
Just before the apply that creates that volume, the seed becomes a private clone of the
repository, as fork mode makes one (`git clone --local --no-hardlinks`, origin removed, the
uncommitted changes carried as one snapshot commit), on branch `aifo/<session>/workspace`; the
transaction copies it into the volume through the node's engine, and it is removed after. A
fork's clone (made by `fork new`, seen by no agent yet) is the seed as it is. A workspace that
is no git repository is copied as it is: there is no branch to bring back then.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from aifo.engine.git import Git
from aifo.errors import ForkError, UsageError
from aifo.fork import gitsteps
from aifo.model import Session, Volume
from aifo.plan.actions import Plan

SEED = "workspace.seed"  # in the session's state folder, while the apply runs


def workspace_branch(session: str) -> str:
    return f"aifo/{session}/workspace"


def is_fork_clone(path: Path) -> bool:
    """A clone `fork new` made (`<repo>.aifo-forks/<session>-fI`): it seeds as it is."""
    return path.parent.name.endswith(".aifo-forks")


def _clone(git: Git, session: str, workspace: Path, dest: Path) -> Path | None:
    """A private clone of the repository whose root is `workspace` at `dest`; None when the
    workspace is no git repository (it is then copied as it is)."""
    try:
        repo = gitsteps.repo_root(git, workspace)
    except ForkError:
        return None
    if repo != workspace.resolve():
        raise UsageError(
            f"the workspace {workspace} is a folder inside the repository {repo}; on a node "
            "that is not this machine it is a clone of the whole repository",
            hint=f"set `workspace.path: {repo}` (and `working_dir:` for the folder inside)",
        )
    head = gitsteps.head_commit(git, repo)
    start = gitsteps.snapshot(git, repo, dest.with_name("workspace.index")) or head
    user = gitsteps.identity(git, repo)
    gitsteps.clone(git, repo, dest, branch=workspace_branch(session), start=start, user=user)
    return dest


@contextmanager
def seeded(session: Session, plan: Plan, directory: Path, git: Git | None = None
           ) -> Iterator[Session]:  # fmt: skip
    """`session` with the seed of each workspace volume this `plan` creates made a fresh
    clone in `directory` (the session's state folder); the clones are removed at the end."""
    creating = {a.id for a in plan.changes if a.op == "create" and a.kind == "volume"}
    made: list[Path] = []
    volumes: list[Volume] = []
    try:
        for volume in session.volumes:
            seed = Path(volume.seed) if volume.seed else None
            if seed is not None and volume.id in creating and not is_fork_clone(seed):
                dest = directory / SEED
                gitsteps.remove_tree(dest)  # a crash's leftover: never an agent's
                made.append(dest)
                cloned = _clone(git or Git(), session.name, seed, dest)
                if cloned is not None:
                    volume = replace(volume, seed=str(cloned))
            volumes.append(volume)
        yield replace(session, volumes=tuple(volumes))
    finally:
        for path in made:
            gitsteps.remove_tree(path)
