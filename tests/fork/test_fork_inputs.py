"""Hostile and odd inputs to fork mode: refs, existing branches, empty and non-repositories,
submodules, numbers twice, host ports, external networks, unknown agents, `fork.include:`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fork.helpers import Forks, git, leftovers, make_repo

# every test lists Docker objects (that none was made), so all need the engine
pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]


@pytest.mark.parametrize(
    "ref",
    [
        "-x",
        "--upload-pack=touch /tmp/aifo-pwned",
        "--output=/tmp/aifo-pwned",
        "HEAD~99",
        "main..main",
        "no such",
        "",
        "main\n",
        "refs/heads/../x",
        "\x1b[31mred",
    ],
)
def test_odd_from_refs_are_usage_errors(forks: Forks, ref: str) -> None:
    empty = leftovers(forks)
    proc = forks.aifo("fork", "new", "1", "--from", ref)
    assert proc.returncode == 2, proc.stderr
    assert "--from" in proc.stderr and "Traceback" not in proc.stderr
    assert leftovers(forks) == empty
    assert not Path("/tmp/aifo-pwned").exists()


def test_a_repository_without_a_commit_is_refused(forks: Forks, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "empty", forks.session, commit=False)
    bare = Forks(repo, forks.session, forks.state)
    proc = bare.aifo("fork", "new", "1")
    assert proc.returncode == 1 and "has no commit yet" in proc.stderr, proc.stderr
    assert not bare.clones.exists()


def test_a_spec_outside_any_repository_is_refused(forks: Forks, tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "aifo.yaml").write_text((forks.repo / "aifo.yaml").read_text())
    proc = Forks(folder, forks.session, forks.state).aifo("fork", "new", "1")
    assert proc.returncode == 1 and "not inside a git repository" in proc.stderr, proc.stderr


def test_a_fork_number_given_twice_or_unknown(forks: Forks) -> None:
    proc = forks.aifo("fork", "rm", "1", "1", "--yes")
    assert proc.returncode == 2 and "given twice" in proc.stderr
    proc = forks.aifo("fork", "rm", "x", "--yes")
    assert proc.returncode == 2 and "not a fork number" in proc.stderr
    proc = forks.aifo("fork", "diff", "7")
    assert proc.returncode == 2 and "no fork 7" in proc.stderr
    proc = forks.aifo("fork", "rm", "--yes")
    assert proc.returncode == 2 and "--all" in proc.stderr


def test_host_ports_and_external_networks_are_refused_located(forks: Forks) -> None:
    spec = forks.repo / "aifo.yaml"
    text = spec.read_text()
    published = '    networks: [sandbox]\n    ports: ["8080:80"]\n'
    spec.write_text(text.replace("    networks: [sandbox]\n", published, 1))
    proc = forks.aifo("fork", "new", "1")
    assert proc.returncode == 2, proc.stderr
    assert "aifo.yaml:" in proc.stderr and "cannot publish a host port" in proc.stderr
    spec.write_text(text.replace("  sandbox: {internal: true}", "  sandbox: {external: true}"))
    proc = forks.aifo("fork", "new", "1")
    assert proc.returncode == 2 and "external network" in proc.stderr, proc.stderr


def test_an_unknown_agent_is_a_usage_error(forks: Forks) -> None:
    proc = forks.aifo("fork", "new", "1", "--agent", "codr")
    assert proc.returncode == 2 and "coder" in proc.stderr, proc.stderr


@pytest.mark.usefixtures("agent_image")
def test_an_existing_branch_is_skipped_and_never_touched(forks: Forks) -> None:
    git(forks.repo, "branch", f"aifo/{forks.session}/1")
    git(forks.repo, "commit", "-q", "--allow-empty", "-m", "later")
    mine = git(forks.repo, "rev-parse", f"aifo/{forks.session}/1")
    assert [f["fork"] for f in forks.ls()] == []
    forks.ok("fork", "new", "1", "--from", "HEAD~1")
    assert [f["fork"] for f in forks.ls()] == [2]
    assert forks.ls()[0]["base"] == mine
    forks.ok("fork", "rm", "--all", "--yes")
    assert git(forks.repo, "rev-parse", f"aifo/{forks.session}/1") == mine


@pytest.mark.usefixtures("agent_image")
def test_submodules_and_fork_include(forks: Forks, tmp_path: Path) -> None:
    sub = make_repo(tmp_path / "sub", "unused")
    git(forks.repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "lib")
    (forks.repo / ".gitignore").write_text(".env\nsecrets/\n")
    (forks.repo / ".env").write_text("TOKEN=1\n")
    (forks.repo / "secrets").mkdir()
    (forks.repo / "secrets" / "k").write_text("k\n")
    spec = forks.repo / "aifo.yaml"
    spec.write_text(spec.read_text() + "fork:\n  include: [.env, secrets]\n")
    git(forks.repo, "add", "-A")
    git(forks.repo, "commit", "-qm", "submodule")
    forks.ok("fork", "new", "1")
    clone = Path(forks.ls()[0]["path"])
    assert (clone / ".env").read_text() == "TOKEN=1\n"
    assert (clone / "secrets" / "k").read_text() == "k\n"
    assert (clone / "lib").is_dir() and not any((clone / "lib").iterdir())  # not initialised
    out = forks.ok("fork", "exec", "1", "coder", "--", "sh", "-c", "cat .env && git status --short")
    assert "TOKEN=1" in out
    row = forks.ls()[0]
    assert row["dirty"] is False, row
    forks.ok("fork", "rm", "1", "--yes")
    # an entry outside the repository is refused before anything is made
    spec.write_text(spec.read_text().replace("[.env, secrets]", "[../outside.txt]"))
    (forks.repo.parent / "outside.txt").write_text("x\n")
    proc = forks.aifo("fork", "new", "1")
    assert proc.returncode == 1 and "not inside the repository" in proc.stderr, proc.stderr
    assert forks.ls() == []


@pytest.mark.usefixtures("agent_image")
def test_the_users_commits_on_the_kept_branch_are_never_lost_silently(forks: Forks) -> None:
    forks.ok("fork", "new", "1")
    forks.ok("fork", "exec", "1", "coder", "--", "sh", "-c", "echo 1 >> a.txt && git commit -qam 1")
    forks.ok("fork", "merge", "1")
    kept = f"aifo/{forks.session}/1"
    git(forks.repo, "checkout", "-q", kept)
    git(forks.repo, "commit", "-q", "--allow-empty", "-m", "mine")
    mine = git(forks.repo, "rev-parse", "HEAD")
    git(forks.repo, "checkout", "-q", "main")
    refused = forks.aifo("fork", "rm", "1", "--yes")
    assert refused.returncode == 1 and "neither the fork nor another branch" in refused.stderr
    forks.ok("fork", "exec", "1", "coder", "--", "sh", "-c", "echo 2 >> a.txt && git commit -qam 2")
    refused = forks.aifo("fork", "merge", "1")
    assert refused.returncode == 1 and "holds commits the fork does not" in refused.stderr
    assert git(forks.repo, "rev-parse", kept) == mine
    forks.ok("fork", "rm", "1", "--yes", "--force")  # the user's explicit choice
    assert git(forks.repo, "branch", "--list", kept) == ""


@pytest.mark.usefixtures("agent_image")
def test_include_dirty_carries_every_change_and_touches_nothing(forks: Forks) -> None:
    git(forks.repo, "commit", "-q", "--allow-empty", "-m", "second")
    (forks.repo / "staged.txt").write_text("staged\n")
    git(forks.repo, "add", "staged.txt")
    (forks.repo / "a.txt").write_text("changed\n")
    (forks.repo / "new.txt").write_text("untracked\n")
    (forks.repo / ".gitignore").write_text("ignored.txt\n")
    (forks.repo / "ignored.txt").write_text("ignored\n")
    before = (git(forks.repo, "status", "--porcelain"), git(forks.repo, "diff", "--cached"))
    refs = git(forks.repo, "for-each-ref")
    forks.ok("fork", "new", "1", "--include-dirty")
    assert (git(forks.repo, "status", "--porcelain"), git(forks.repo, "diff", "--cached")) == before
    assert git(forks.repo, "for-each-ref") == refs
    clone = Path(forks.ls()[0]["path"])
    assert {p: (clone / p).read_text() for p in ("a.txt", "staged.txt", "new.txt")} == {
        "a.txt": "changed\n", "staged.txt": "staged\n", "new.txt": "untracked\n",
    }  # fmt: skip
    assert not (clone / "ignored.txt").exists()
    row = forks.ls()[0]
    assert (row["ahead"], row["dirty"]) == (0, False)  # the snapshot is the fork's base
    refused = forks.aifo("fork", "new", "1", "--include-dirty", "--from", "HEAD~1")
    assert refused.returncode == 2 and "--include-dirty" in refused.stderr


@pytest.mark.usefixtures("agent_image")
def test_two_fork_new_at_once_take_turns(forks: Forks) -> None:
    argv = [sys.executable, "-m", "aifo", "-f", str(forks.repo / "aifo.yaml"), "fork", "new", "1"]
    children = [
        subprocess.Popen(
            argv, cwd=forks.repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outcomes = [c.communicate(timeout=300) for c in children]
    assert [c.returncode for c in children] == [0, 0], outcomes
    assert [f["fork"] for f in forks.ls()] == [1, 2]
    forks.ok("fork", "rm", "--all", "--yes")
