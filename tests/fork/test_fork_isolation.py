"""Nothing a fork does reaches the main repository or the host: no shared inode, a `.git`
destroyed from inside the agent leaves the main repository sound, and a hostile `.git/config`
in a clone runs nothing when aifo reads or merges the fork."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.fork.helpers import Forks, git, make_repo

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600), pytest.mark.usefixtures("agent_image")]


def _files(root: Path) -> list[Path]:
    return [Path(d, f) for d, _dirs, files in os.walk(root) for f in files]


def test_no_inode_is_shared_with_the_main_repository(forks: Forks) -> None:
    for i in range(20):  # some objects, packed and loose
        (forks.repo / f"f{i}.txt").write_text(f"{i}\n" * 100)
    git(forks.repo, "add", "-A")
    git(forks.repo, "commit", "-qm", "more")
    git(forks.repo, "gc", "-q")
    forks.ok("fork", "new", "1")
    clone = forks.clones / f"{forks.session}-f1"
    main_inodes = {(p.stat().st_dev, p.stat().st_ino) for p in _files(forks.repo / ".git")}
    clone_files = _files(clone / ".git")
    assert clone_files
    assert not {(p.stat().st_dev, p.stat().st_ino) for p in clone_files} & main_inodes
    assert not (clone / ".git" / "objects" / "info" / "alternates").exists()
    assert git(clone, "remote") == ""  # origin (a host path) removed


def test_a_destroyed_fork_git_leaves_the_main_repository_sound(forks: Forks) -> None:
    forks.ok("fork", "new", "1")
    forks.ok("fork", "exec", "1", "coder", "--", "sh", "-c", "echo x >> a.txt && git commit -qam x")
    # from inside the agent: every file under .git made writable and overwritten
    damage = (
        "cd /workspace/.git && find . -type f -exec chmod u+w {} + && "
        "find . -type f -exec sh -c 'for f; do printf garbage > \"$f\"; done' _ {} + && "
        "find . -type f | wc -l"
    )
    damaged = int(forks.ok("fork", "exec", "1", "coder", "--", "sh", "-c", damage).strip())
    assert damaged > 10
    assert git(forks.repo, "fsck", "--full", "--strict") == ""
    assert git(forks.repo, "status", "--porcelain") == ""
    # the damaged fork is reported, not merged, and can be removed
    row = forks.ls()[0]
    assert row["ahead"] is None and "error" in row
    refused = forks.aifo("fork", "merge", "1")
    assert refused.returncode == 1, refused.stderr
    assert git(forks.repo, "fsck", "--full", "--strict") == ""
    forks.ok("fork", "rm", "1", "--yes", "--force")
    assert git(forks.repo, "fsck", "--full", "--strict") == ""


def test_a_hostile_fork_config_runs_nothing_on_the_host(forks: Forks, tmp_path: Path) -> None:
    forks.ok("fork", "new", "1")
    marker = tmp_path / "pwned"
    hostile = (
        "cd /workspace && echo y >> a.txt && git commit -qam y && echo dirty >> a.txt && "
        "echo '* filter=evil diff=evil' > .gitattributes && "
        f"git config core.fsmonitor 'touch {marker}' && "
        f"git config filter.evil.clean 'touch {marker}; cat' && "
        f"git config diff.evil.command 'touch {marker}' && "
        f"git config diff.external 'touch {marker}' && "
        f"git config core.pager 'touch {marker}' && "
        f"git config uploadpack.packObjectsHook 'touch {marker}' && "
        "mkdir -p .git/hooks && "
        f"printf '#!/bin/sh\\ntouch {marker}\\n' > .git/hooks/post-checkout && "
        "chmod +x .git/hooks/post-checkout"
    )
    forks.ok("fork", "exec", "1", "coder", "--", "sh", "-c", hostile)
    rows = forks.ls()
    assert rows[0]["ahead"] == 1 and rows[0]["dirty"] is True
    assert "+dirty" in forks.ok("fork", "diff", "1")
    forks.ok(
        "fork",
        "exec",
        "1",
        "coder",
        "--",
        "sh",
        "-c",
        "git config --unset core.fsmonitor; rm .gitattributes; git checkout -q -- a.txt; "
        "git clean -fdq",
    )
    assert "fast-forwarded" in forks.ok("fork", "merge", "1")
    forks.ok("fork", "rm", "1", "--yes")
    assert not marker.exists(), "a command from the fork's .git ran on the host"


@pytest.mark.parametrize("where", [".git", ".git/objects"])
def test_a_link_in_the_fork_git_never_points_the_host_at_another_repository(
    forks: Forks, tmp_path: Path, where: str
) -> None:
    secret = make_repo(tmp_path / "secret", "unused")
    (secret / "secret.txt").write_text("the user's private file\n")
    git(secret, "add", "-A")
    git(secret, "commit", "-qm", "private")
    git(secret, "branch", f"aifo/{forks.session}/1")  # what the fork's branch is called
    private = git(secret, "rev-parse", "HEAD")
    forks.ok("fork", "new", "1")
    if where == ".git":  # dangles inside the container, resolves on the host
        link = f"rm -rf .git && ln -s '{secret}/.git' .git"
    else:
        link = f"rm -rf .git/objects && ln -s '{secret}/.git/objects' .git/objects && " \
               f"git update-ref refs/heads/aifo/{forks.session}/1 {private} 2>/dev/null; " \
               f"printf '{private}\\n' > .git/refs/heads/aifo/{forks.session}/1"  # fmt: skip
    forks.ok("fork", "exec", "1", "coder", "--", "sh", "-c", link)
    refused = forks.aifo("fork", "merge", "1")
    err = refused.stderr
    assert refused.returncode == 1 and ("symbolic link" in err or "not a folder" in err), err
    assert "error" in forks.ls()[0]
    assert "secret" not in forks.aifo("fork", "diff", "1").stdout  # never read through the link
    probe = subprocess.run(["git", "-C", str(forks.repo), "cat-file", "-e", private], check=False)
    assert probe.returncode != 0, "the other repository's commit reached the main one"
    assert not (forks.repo / "secret.txt").exists()
    forks.ok("fork", "rm", "1", "--yes", "--force")
