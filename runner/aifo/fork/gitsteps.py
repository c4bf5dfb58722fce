"""The git steps of making a fork, each one call or a few through aifo.engine.git.

Only the main repository (the user's own) and a clone aifo has just made (no agent has seen it
yet) are ever the repository of a call here; reading a fork later goes through
aifo.fork.inspect.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from aifo.engine.git import Git
from aifo.errors import ForkError, GitError, UsageError

# The snapshot commit of `--include-dirty` is aifo's, not the user's: say so in its author.
SNAPSHOT_IDENTITY = {
    "GIT_AUTHOR_NAME": "aifo",
    "GIT_AUTHOR_EMAIL": "aifo@localhost",
    "GIT_COMMITTER_NAME": "aifo",
    "GIT_COMMITTER_EMAIL": "aifo@localhost",
}
FALLBACK_USER = ("aifo agent", "agent@aifo.invalid")


def repo_root(git: Git, start: Path) -> Path:
    """The work tree holding `start` (real path); a bare repository or none is refused."""
    code, out, _err = git.run(start, "rev-parse", "--show-toplevel", check=False)
    if code != 0 or not out.strip():
        raise ForkError(
            f"{start} is not inside a git repository",
            hint="fork mode clones the repository of the workspace: run `git init` and commit",
        )
    return Path(out.strip()).resolve()


def head_commit(git: Git, repo: Path) -> str:
    code, out, _err = git.run(
        repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False
    )
    if code != 0:
        raise ForkError(
            f"the repository {repo} has no commit yet",
            hint="commit something first: a fork starts from a commit",
        )
    return out.strip()


def resolve_ref(git: Git, repo: Path, ref: str) -> str:
    """`--from REF` as a commit id; a name git cannot parse is a usage error, never an option."""
    if not ref or ref.startswith("-") or any(ord(c) < 32 or c == "\x7f" for c in ref):
        raise UsageError(
            f"--from {ref!r} is not a git revision", hint="give a branch, tag or commit"
        )
    code, out, _err = git.run(
        repo,
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        f"{ref}^{{commit}}",
        check=False,
    )
    if code != 0:
        raise UsageError(
            f"--from {ref!r} names no commit in {repo}",
            hint="see `git log --oneline` or `git branch`",
        )
    return out.strip()


def check_branch(git: Git, name: str, cwd: Path) -> None:
    if not git.ok(cwd, "check-ref-format", "--branch", name):
        raise UsageError(f"{name!r} is not a valid branch name", hint="use a simpler session name")


def branch_exists(git: Git, repo: Path, name: str) -> bool:
    return git.ok(repo, "show-ref", "--verify", "--quiet", f"refs/heads/{name}")


def snapshot(git: Git, repo: Path, index: Path) -> str | None:
    """The main tree's uncommitted changes (tracked and untracked, not ignored) as a commit on
    HEAD, made through a private index: the user's index, tree and refs are untouched, no hook
    runs, nothing is signed. None when there is nothing to carry."""
    env = {"GIT_INDEX_FILE": str(index), **SNAPSHOT_IDENTITY}
    try:
        git.run(repo, "read-tree", "HEAD", env=env)
        git.run(repo, "add", "-A", "--", ".", env=env)
        tree = git.out(repo, "write-tree", env=env)
    finally:
        index.unlink(missing_ok=True)
    if tree == git.out(repo, "rev-parse", "HEAD^{tree}"):
        return None
    message = "aifo: snapshot of the uncommitted changes (fork --include-dirty)"
    return git.out(repo, "commit-tree", "--no-gpg-sign", "-p", "HEAD", "-m", message, tree, env=env)


def identity(git: Git, repo: Path) -> tuple[str, str]:
    """Who commits inside a fork: the user's git identity, else a fallback (the agent's
    container has no git configuration of its own)."""
    name = git.run(repo, "config", "user.name", check=False)[1].strip()
    email = git.run(repo, "config", "user.email", check=False)[1].strip()
    return name or FALLBACK_USER[0], email or FALLBACK_USER[1]


def clone(
    git: Git, repo: Path, dest: Path, *, branch: str, start: str, user: tuple[str, str]
) -> None:
    """A clone with a full `.git`, objects copied (never hard-linked), on `branch` at `start`."""
    if dest.exists() or dest.is_symlink():
        raise ForkError(f"{dest} exists already", hint="remove it, or see `aifo fork ls`")
    dest.parent.mkdir(parents=True, exist_ok=True)
    git.run(
        dest.parent, "clone", "--quiet", "--local", "--no-hardlinks", "--no-tags",
        "--no-checkout", "--", str(repo), str(dest),
    )  # fmt: skip
    alternates = dest / ".git" / "objects" / "info" / "alternates"
    if alternates.exists():  # the main repository borrows objects: copy them in, share nothing
        git.run(dest, "repack", "-a", "-d", "-q")
        alternates.unlink()
    git.run(dest, "remote", "remove", "origin")  # a host path: nothing inside the container
    git.run(dest, "config", "user.name", user[0])
    git.run(dest, "config", "user.email", user[1])
    git.run(dest, "checkout", "--quiet", "-b", branch, start, "--")


def copy_includes(repo: Path, dest: Path, entries: list[Path]) -> None:
    """`fork.include:` (already vetted by the host-path policy): files and folders copied
    from the repository into the clone; links are copied as links, never followed."""
    for entry in entries:
        source, target = repo / entry, dest / entry
        if not source.exists() and not source.is_symlink():
            raise ForkError(f"fork.include: {source} does not exist")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir() and not source.is_symlink():
                shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
            else:
                shutil.copy2(source, target, follow_symlinks=False)
        except (OSError, shutil.Error) as exc:
            raise ForkError(f"fork.include: cannot copy {source} into {dest}: {exc}") from exc


def remove_tree(path: Path) -> None:
    """Remove a clone the agent may have made read-only; links are removed, never followed."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
        return
    if not path.exists():
        return
    # Every folder ours again (the agent may have chmod'ed some): then unlinking cannot fail.
    os.chmod(path, stat.S_IRWXU)
    for root, dirs, _files in os.walk(path):
        for d in dirs:
            full = os.path.join(root, d)
            if not os.path.islink(full):
                os.chmod(full, stat.S_IRWXU)
    shutil.rmtree(path)


def remove_clone(path: Path) -> None:
    """A fork's clone, and the `<repo>.aifo-forks` folder once it holds no other clone."""
    if not path.parent.name.endswith(".aifo-forks"):  # never anything else, whatever it says
        raise ForkError(f"refusing to remove {path}: not a fork's clone")
    remove_tree(path)
    try:
        path.parent.rmdir()
    except OSError:
        pass  # other forks are there


def delete_branch(git: Git, repo: Path, name: str) -> bool:
    """Delete branch `name` of the main repository when it exists; True when it did."""
    if not branch_exists(git, repo, name):
        return False
    try:
        git.run(repo, "branch", "--quiet", "-D", "--", name)
    except GitError as exc:
        raise ForkError(str(exc), hint=f"switch the main repository off {name} first") from exc
    return True
