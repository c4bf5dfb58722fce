"""`fork merge I`: the fork's branch into the main repository's current branch.

Refused on a detached HEAD (the result would be reachable only through the reflog once the
user switched away), on a dirty main tree, and while the fork has uncommitted work. The
branch comes through the private repository (aifo.fork.inspect), so the commit merged is the
one checked; it is kept in the main repository as `aifo/<session>/<I>` until `fork rm`.
"""

from __future__ import annotations

from pathlib import Path

from aifo.engine.git import Git
from aifo.errors import ForkError
from aifo.fork.inspect import FORK_REF, FSCK, Reader

MAX_LISTED = 8


def _current_branch(git: Git, repo: Path, fork_branch: str) -> str:
    code, out, _err = git.run(repo, "symbolic-ref", "--quiet", "HEAD", check=False)
    if code != 0:
        raise ForkError(
            f"the main repository {repo} is on a detached HEAD",
            hint="check out the branch to merge into first (`git switch BRANCH`)",
        )
    current = out.strip().removeprefix("refs/heads/")
    if current == fork_branch:
        raise ForkError(
            f"the main repository has the fork's branch {fork_branch} checked out",
            hint="check out the branch to merge into first (`git switch BRANCH`)",
        )
    return current


def refuse_uncommitted(reader: Reader, agent_hint: str) -> None:
    changes = reader.changes()
    if changes:
        shown = "\n".join(f"  {c}" for c in changes[:MAX_LISTED])
        more = f"\n  ... and {len(changes) - MAX_LISTED} more" if len(changes) > MAX_LISTED else ""
        number = reader.record.fork
        raise ForkError(
            f"fork {number} has uncommitted changes:\n{shown}{more}",
            hint=f"commit them inside the fork: `aifo fork exec {number} {agent_hint} -- "
            f'git add -A` then `aifo fork exec {number} {agent_hint} -- git commit -m "..."`',
        )


def merge(git: Git, reader: Reader, *, squash: bool, agent_hint: str = "AGENT") -> str:
    """Merge fork `reader.record` into the current branch; what happened, in one line."""
    record = reader.record
    repo = Path(record.repo)
    current = _current_branch(git, repo, record.branch)
    if git.out(repo, "status", "--porcelain", "--untracked-files=no"):
        raise ForkError(
            f"the main work tree {repo} has uncommitted changes",
            hint="commit or stash them first; a merge must not mix with them",
        )
    tip = reader.fetch()
    refuse_uncommitted(reader, agent_hint)
    kept = f"refs/heads/{record.branch}"
    if git.ok(repo, "show-ref", "--verify", "--quiet", kept):
        old = git.out(repo, "rev-parse", kept)
        if not reader.contains(old):  # someone else's commits there: never overwritten
            raise ForkError(
                f"the main repository's branch {record.branch} holds commits the fork does not",
                hint=f"rename or delete that branch first (`git branch -m {record.branch} NEW`)",
            )
    git.run(
        repo, *FSCK, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--",
        str(reader.gitdir), f"+{FORK_REF}:refs/heads/{record.branch}",
    )  # fmt: skip
    if git.out(repo, "rev-parse", f"refs/heads/{record.branch}") != tip:
        raise ForkError(f"fork {record.fork}: its branch changed while merging; try again")
    if git.ok(repo, "merge-base", "--is-ancestor", tip, "HEAD"):
        return f"fork {record.fork}: nothing to merge ({current} already has {tip[:12]})"
    title = f"aifo: merge fork {record.fork} of session {record.session} ({record.branch})"
    if squash:
        if not git.ok(repo, "merge", "--squash", "--quiet", record.branch):
            git.run(repo, "reset", "--merge", check=False)
            raise _conflict(record.branch, current)
        git.run(repo, "commit", "--quiet", "--no-verify", "-m", f"{title}, squashed")
        return f"fork {record.fork}: squashed into {current} as one commit"
    fast = git.ok(repo, "merge-base", "--is-ancestor", "HEAD", tip)
    if not git.ok(repo, "merge", "--quiet", "--no-edit", "-m", title, record.branch):
        git.run(repo, "merge", "--abort", check=False)
        raise _conflict(record.branch, current)
    how = "fast-forwarded" if fast else "merged with a merge commit"
    return f"fork {record.fork}: {current} {how} to include {record.branch}"


def _conflict(fork_branch: str, current: str) -> ForkError:
    return ForkError(
        f"merging {fork_branch} into {current} conflicts; nothing was changed",
        hint=f"resolve it by hand: `git merge {fork_branch}` (the branch stays until `fork rm`)",
    )
