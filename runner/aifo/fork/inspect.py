"""Reading a fork from the host without trusting its `.git` (docs/fork.md).

The agent writes the clone's `.git`: its config could name an fsmonitor, a pager, a diff
driver or a filter, which git would run on the host. So git never runs with the clone as its
repository. The fork's branch is fetched (git runs `upload-pack` on the clone, which runs no
hook and no command the repository configures) into a private bare repository in aifo's state
folder that borrows the main repository's objects; the work tree is read with that private
repository as the git dir and a private index: every setting in force is aifo's or the user's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from aifo.engine.git import Git
from aifo.errors import ForkError
from aifo.fork.records import ForkRecord

FORK_REF = "refs/aifo/fork"  # in the private repository: the fork's branch as last fetched
# Fetched objects are checked: a damaged or hostile pack is refused, not stored.
FSCK = ("-c", "fetch.fsckObjects=true", "-c", "transfer.fsckObjects=true")


def printable(text: str) -> str:
    """A fork's text (file contents, names) made safe for a terminal: the agent wrote it, and a
    control sequence in a diff could retitle, recolour or rewrite the user's screen."""
    return "".join(
        c if c in "\n\t" or not (ord(c) < 32 or 0x7F <= ord(c) <= 0x9F) else f"\\x{ord(c):02x}"
        for c in text
    )


def _refuse_links(gitdir: Path, number: int) -> None:
    """The clone's `.git` as a plain tree: a symbolic link in it (the agent can make one that
    dangles in its container) would point git, run by the user on the host, at another of the
    user's repositories or files."""
    if gitdir.is_symlink() or not gitdir.is_dir():
        raise ForkError(
            f"fork {number}: {gitdir} is missing or not a folder",
            hint="the agent replaced it; `aifo fork rm --force` removes the fork",
        )
    for root, dirs, files in os.walk(gitdir):
        for name in (*dirs, *files):
            if os.path.islink(os.path.join(root, name)):
                raise ForkError(
                    f"fork {number}: {os.path.join(root, name)} is a symbolic link; "
                    "aifo reads a fork's .git only when it holds none",
                    hint="remove the link inside the fork, or `aifo fork rm --force` the fork",
                )


@dataclass(frozen=True)
class Reader:
    """The private repository and index through which one fork is read."""

    git: Git
    record: ForkRecord
    folder: Path  # <state>/forks/<session>

    @property
    def gitdir(self) -> Path:
        return self.folder / f"{self.record.fork}.git"

    @property
    def index(self) -> Path:
        return self.folder / f"{self.record.fork}.index"

    def _private(self, *args: str) -> tuple[str, ...]:
        return ("--git-dir", str(self.gitdir), "--work-tree", self.record.path, *args)

    def prepare(self) -> None:
        """The private repository, made once; its objects borrowed from the main one."""
        if (self.gitdir / "HEAD").exists():
            return
        self.git.run(self.folder, "init", "--quiet", "--bare", str(self.gitdir))
        objects = Path(self.record.repo) / ".git" / "objects"
        common = self.git.run(Path(self.record.repo), "rev-parse", "--git-common-dir")[1].strip()
        if common:
            objects = (Path(self.record.repo) / common).resolve() / "objects"
        (self.gitdir / "objects" / "info" / "alternates").write_text(f"{objects}\n")

    def fetch(self) -> str:
        """The fork's branch, fetched now; its commit id."""
        self.prepare()
        _refuse_links(Path(self.record.path, ".git"), self.record.fork)
        refspec = f"+refs/heads/{self.record.branch}:{FORK_REF}"
        code, _out, err = self.git.run(
            self.folder, "--git-dir", str(self.gitdir), *FSCK, "fetch", "--quiet", "--no-tags",
            "--no-write-fetch-head", "--no-recurse-submodules", "--", self.record.path, refspec,
            check=False,
        )  # fmt: skip
        if code != 0:
            lines = err.strip().splitlines()
            raise ForkError(
                f"fork {self.record.fork}: cannot read its branch {self.record.branch}: "
                f"{lines[-1] if lines else code}",
                hint="the agent may have deleted or damaged it; `aifo fork rm --force` removes it",
            )
        return self.git.out(self.folder, "--git-dir", str(self.gitdir), "rev-parse", FORK_REF)

    def ahead(self) -> int:
        text = self.git.out(
            self.folder, "--git-dir", str(self.gitdir), "rev-list", "--count",
            f"{self.record.base}..{FORK_REF}",
        )  # fmt: skip
        return int(text or 0)

    def _refresh(self) -> dict[str, str]:
        """The private index at the fork's commit, its stat data refreshed from the work tree."""
        env = {"GIT_INDEX_FILE": str(self.index)}
        self.git.run(self.folder, *self._private("read-tree", "--reset", FORK_REF), env=env)
        self.git.run(
            self.folder, *self._private("update-index", "-q", "--refresh"), env=env, check=False
        )
        return env

    def changes(self) -> list[str]:
        """Uncommitted changes as `X path` lines (`?` untracked)."""
        env = self._refresh()
        tracked = self.git.out(
            self.folder,
            *self._private("diff-index", "--name-status", "--no-renames", FORK_REF),
            env=env,
        )
        untracked = self.git.out(
            self.folder, *self._private("ls-files", "--others", "--exclude-standard"), env=env
        )
        lines = [" ".join(line.split("\t", 1)) for line in tracked.splitlines() if line]
        return lines + [f"? {p}" for p in untracked.splitlines() if p]

    def diff(self, *, stat: bool) -> str:
        """Committed changes against the base, then uncommitted ones against the fork's commit."""
        options = ("--no-color", "--no-ext-diff", "--no-textconv", *(("--stat",) if stat else ()))
        committed = self.git.run(
            self.folder, "--git-dir", str(self.gitdir), "diff", *options, self.record.base, FORK_REF
        )[1]
        env = self._refresh()
        uncommitted = self.git.run(
            self.folder, *self._private("diff", *options, FORK_REF, "--"), env=env
        )[1]
        untracked = [c[2:] for c in self.changes() if c.startswith("? ")]
        parts = []
        if committed.strip():
            parts.append(
                f"# committed on {self.record.branch} since {self.record.base[:12]}\n{committed}"
            )
        if uncommitted.strip() or untracked:
            listed = "".join(f"untracked: {p}\n" for p in untracked)
            parts.append(f"# uncommitted in {self.record.path}\n{uncommitted}{listed}")
        return printable("\n".join(parts))

    def diffstat(self) -> str:
        """One line: files changed, insertions, deletions since the base (committed)."""
        return self.git.out(
            self.folder,
            "--git-dir",
            str(self.gitdir),
            "diff",
            "--shortstat",
            self.record.base,
            FORK_REF,
        )

    def contains(self, commit: str) -> bool:
        """Whether the fork's branch (as last fetched) holds `commit` (of the main repository)."""
        return self.git.ok(
            self.folder, "--git-dir", str(self.gitdir), "merge-base", "--is-ancestor", commit,
            FORK_REF,
        )  # fmt: skip

    def unmerged(self, keep: list[str]) -> int:
        """Commits of the fork that none of `keep` (commit ids: the main repository's branches
        and remotes) holds."""
        text = self.git.out(
            self.folder,
            "--git-dir",
            str(self.gitdir),
            "rev-list",
            "--count",
            FORK_REF,
            "--not",
            *keep,
        )
        return int(text or 0)
