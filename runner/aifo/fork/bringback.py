"""A fork's work brought back from its volume on a node (docs/swarm.md).

A fork placed on a Swarm node that is not this machine works in a volume there, seeded from
its host clone. Before `fork ls`, `diff`, `merge`, `rm` or `exec --all` read it, the volume's
content is brought back through the node's engine (`Engine.read_volume`: an archive of the
volume, unpacked as untrusted: nothing outside the destination, no devices, bounded) into a
fresh folder beside the clone, which then replaces the clone's host copy whole. The fork is then
read as a bound one is (aifo.fork.inspect: its branch fetched, never git run in it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from aifo.engine.git import Git
from aifo.errors import EngineError, ForkError
from aifo.fork.gitsteps import remove_tree
from aifo.fork.records import ForkRecord
from aifo.model import LABEL_SESSION

if TYPE_CHECKING:
    from aifo.engine.api import Engine


def refresh(record: ForkRecord, engine: Engine) -> None:
    """Replace the fork's host copy (`record.path`) with its volume's content."""
    clone = Path(record.path)
    if not clone.parent.name.endswith(".aifo-forks"):  # never anything else, whatever it says
        raise ForkError(f"refusing to replace {clone}: not a fork's clone")
    incoming = clone.with_name(f".{clone.name}.incoming")
    old = clone.with_name(f".{clone.name}.old")
    for leftover in (incoming, old):  # an interrupted refresh's: aifo's own copies
        remove_tree(leftover)
    try:
        engine.read_volume(
            record.volume, str(incoming), labels={LABEL_SESSION: record.fork_session}
        )
    except EngineError as exc:
        raise ForkError(
            f"fork {record.fork}: cannot bring its workspace back from volume "
            f"{record.volume}: {exc.message}",
            hint=exc.hint or "check that the fork's node is up (`docker node ls`)",
        ) from exc
    if clone.exists():
        os.rename(clone, old)
    os.rename(incoming, clone)
    remove_tree(old)


def pull_workspace(
    git: Git, engine: Engine, folder: Path, *, session: str, repo: Path, volume: str
) -> str:
    """The main session's workspace branch (`aifo/<session>/workspace`, in its volume on a
    node elsewhere) fetched into the repository as that branch; what happened, in one line.

    The volume's tree comes back into `folder/workspace` (the forks' state folder of the
    session) and is read as a fork is (aifo.fork.inspect: fetched, checked, never git run in
    it); a branch of that name holding commits the volume's does not is never overwritten."""
    from aifo.fork.inspect import FORK_REF, FSCK, Reader
    from aifo.fork.nodeclone import workspace_branch

    branch = workspace_branch(session)
    copy = folder / "workspace"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    remove_tree(copy)
    try:
        engine.read_volume(volume, str(copy), labels={LABEL_SESSION: session})
    except EngineError as exc:
        raise ForkError(
            f"cannot bring the workspace of session {session!r} back from volume {volume}: "
            f"{exc.message}",
            hint=exc.hint or "is the session applied on a node elsewhere? (`aifo status`)",
        ) from exc
    base = git.out(repo, "rev-parse", "HEAD")
    record = ForkRecord(
        fork=0, session=session, fork_session=session, branch=branch, path=str(copy),
        repo=str(repo), base=base, created="", spec="",
    )  # fmt: skip
    reader = Reader(git, record, folder)
    tip = reader.fetch()
    kept = f"refs/heads/{branch}"
    if git.ok(repo, "show-ref", "--verify", "--quiet", kept):
        if not reader.contains(git.out(repo, "rev-parse", kept)):
            raise ForkError(
                f"the repository's branch {branch} holds commits the workspace does not",
                hint=f"rename or delete that branch first (`git branch -m {branch} NEW`)",
            )
    git.run(
        repo, *FSCK, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--",
        str(reader.gitdir), f"+{FORK_REF}:{kept}",
    )  # fmt: skip
    left = reader.changes()
    note = f"; {len(left)} uncommitted change(s) stay in the volume" if left else ""
    return f"{branch} is at {tip[:12]} ({reader.ahead()} commit(s) on {base[:12]}){note}"
