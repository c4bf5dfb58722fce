"""new → ls → exec (the agent's git: commit, log, diff) → diff → merge → rm, on a real engine and
real git, in a repository whose path has a space."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.fork.helpers import Forks, docker_objects, git

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600), pytest.mark.usefixtures("agent_image")]

KEYS = {"fork", "branch", "path", "base", "ahead", "dirty", "state", "created"}


def test_round_trip(forks: Forks) -> None:
    head = git(forks.repo, "rev-parse", "HEAD")
    made = json.loads(forks.ok("fork", "new", "2", "-o", "json"))["forks"]
    assert [f["fork"] for f in made] == [1, 2]
    rows = forks.ls()
    assert all(KEYS <= set(r) for r in rows), rows
    assert [(r["ahead"], r["dirty"], r["state"], r["base"]) for r in rows] == [
        (0, False, "running", head)
    ] * 2
    sessions = json.loads(forks.ok("ls", "-o", "json"))["sessions"]
    listed = [(s["session"], s.get("fork_of"), s.get("fork")) for s in sessions]
    assert [x for x in listed if x[1] == forks.session] == [
        (f"{forks.session}-f{n}", forks.session, n) for n in (1, 2)
    ]
    tmux = forks.ok("fork", "attach", "--print")  # one pane per fork, each `fork run I coder`
    assert tmux.startswith("tmux new-session") and tmux.count("split-window") == 1
    assert "fork run 1 coder" in tmux and "fork run 2 coder" in tmux
    one = rows[0]
    assert one["branch"] == f"aifo/{forks.session}/1"
    assert one["path"] == str(forks.clones / f"{forks.session}-f1")
    # each fork is its own session: its own networks, nothing shared with the other
    nets = {
        n: json.loads(subprocess.run(["docker", "inspect", f"aifo-{forks.session}-f{n}-coder"],
                                     capture_output=True, text=True, check=True).stdout)[0]
        ["NetworkSettings"]["Networks"].keys()
        for n in (1, 2)
    }  # fmt: skip
    assert nets[1] and nets[2] and not set(nets[1]) & set(nets[2])

    # the agent's git works inside its clone: commit, log, diff
    out = forks.ok(
        "fork", "exec", "1", "coder", "--",
        "sh", "-c", "echo agent >> a.txt && git commit -qam 'agent work' && git log --oneline "
        "&& git diff HEAD~1 --stat && git status --short",
    )  # fmt: skip
    assert "agent work" in out and "a.txt | 1 +" in out
    forks.ok("fork", "exec", "2", "coder", "--", "sh", "-c", "echo two > b.txt")
    rows = forks.ls()
    assert [(r["ahead"], r["dirty"]) for r in rows] == [(1, False), (0, True)]
    escape = r"printf '\033]0;owned\007\n' >> a.txt"  # a terminal title sequence
    forks.ok("fork", "exec", "1", "coder", "--", "sh", "-c", escape)
    diff = forks.ok("fork", "diff", "1")
    assert "+agent" in diff and "committed on" in diff
    assert "\x1b" not in diff and "+\\x1b]0;owned\\x07" in diff  # the agent's bytes, inert
    forks.ok("fork", "exec", "1", "coder", "--", "git", "checkout", "--", "a.txt")
    assert "untracked: b.txt" in forks.ok("fork", "diff", "2", "--stat")

    # merge refuses uncommitted work in the fork, and says how to commit it inside
    refused = forks.aifo("fork", "merge", "2")
    assert refused.returncode == 1 and "b.txt" in refused.stderr
    assert "aifo fork exec 2" in refused.stderr and "git commit" in refused.stderr
    # and a dirty main tree
    (forks.repo / "a.txt").write_text("dirty\n")
    refused = forks.aifo("fork", "merge", "1")
    assert refused.returncode == 1 and "uncommitted changes" in refused.stderr
    git(forks.repo, "checkout", "--", "a.txt")

    # fork 1 fast-forwards main
    assert "fast-forwarded" in forks.ok("fork", "merge", "1")
    tip1 = git(forks.repo, "rev-parse", "HEAD")
    assert git(forks.repo, "log", "-1", "--format=%s") == "agent work"
    assert git(forks.repo, "rev-parse", f"aifo/{forks.session}/1") == tip1

    # fork 2 diverged from main: a merge commit; then squash of nothing is nothing
    forks.ok("fork", "exec", "2", "coder", "--", "sh", "-c", "git add -A && git commit -qm two")
    assert "merge commit" in forks.ok("fork", "merge", "2")
    merged = git(forks.repo, "rev-parse", "HEAD")
    assert git(forks.repo, "rev-list", "--parents", "-1", "HEAD").count(" ") == 2
    assert (forks.repo / "b.txt").read_text() == "two\n"

    # rm asks; without a terminal it refuses unless --yes
    refused = forks.aifo("fork", "rm", "1")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert forks.clones.joinpath(f"{forks.session}-f1").is_dir()
    forks.ok("fork", "rm", "--all", "--yes")
    assert forks.ls() == []
    assert docker_objects(forks.session) == []
    assert not forks.clones.exists()  # the folder beside the repository goes with the last
    assert git(forks.repo, "branch", "--list", "aifo/*") == ""
    # the merges are on main itself, not only in a reflog: drop the reflogs and check
    git(forks.repo, "reflog", "expire", "--expire=now", "--all")
    git(forks.repo, "gc", "--prune=now", "-q")
    assert git(forks.repo, "rev-parse", "main") == merged
    git(forks.repo, "merge-base", "--is-ancestor", tip1, "main")
    assert git(forks.repo, "fsck", "--full", "--no-dangling") == ""


def test_squash_merge_is_one_commit_and_rm_guards_unmerged_work(forks: Forks) -> None:
    forks.ok("fork", "new", "1")
    for word in ("one", "two"):
        forks.ok("fork", "exec", "1", "coder", "--", "sh", "-c",
                 f"echo {word} >> a.txt && git commit -qam {word}")  # fmt: skip
    before = git(forks.repo, "rev-parse", "HEAD")
    refused = forks.aifo("fork", "rm", "1", "--yes")
    assert refused.returncode == 1 and "2 commit(s) that no branch" in refused.stderr
    assert "squashed" in forks.ok("fork", "merge", "1", "--squash")
    assert git(forks.repo, "rev-list", "--count", f"{before}..HEAD") == "1"
    assert git(forks.repo, "rev-parse", "HEAD^") == before
    assert (forks.repo / "a.txt").read_text() == "hello\none\ntwo\n"
    # squashed: the fork's own commits are on aifo/<s>/1 only, which rm deletes: still refused
    refused = forks.aifo("fork", "rm", "1", "--yes")
    assert refused.returncode == 1, refused.stderr
    forks.ok("fork", "rm", "1", "--yes", "--force")
    assert git(forks.repo, "branch", "--list", "aifo/*") == ""
    assert (forks.repo / "a.txt").read_text() == "hello\none\ntwo\n"


def test_hooks_and_wait_run_per_fork(forks: Forks) -> None:
    spec = forks.repo / "aifo.yaml"
    hook = "    hooks: [{name: mark, run: 'git -C /workspace config aifo.hook \"$HOSTNAME\"'}]\n"
    spec.write_text(
        spec.read_text().replace("    networks: [sandbox]\n", "    networks: [sandbox]\n" + hook, 1)
    )
    git(forks.repo, "commit", "-qam", "hook")
    forks.ok("fork", "new", "2", "--wait")
    marks = [git(Path(r["path"]), "config", "aifo.hook") for r in forks.ls()]
    assert len(set(marks)) == 2 and all(marks), marks  # each fork's own container ran it
    assert [r["dirty"] for r in forks.ls()] == [False, False]
    forks.ok("fork", "rm", "--all", "--yes")


def test_exec_all_runs_in_every_fork_in_parallel(forks: Forks) -> None:
    forks.ok("fork", "new", "3")
    work = "echo $HOSTNAME >> a.txt && git commit -qam w && sleep 4 && exit 1"
    started = time.monotonic()
    proc = forks.aifo("fork", "exec", "--all", "-o", "json", "coder", "--", "sh", "-c", work)
    took = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr  # every command "failed": exit 1
    results = json.loads(proc.stdout)["results"]
    assert [r["fork"] for r in results] == [1, 2, 3]
    assert all(r["exit_code"] == 1 and r["duration_s"] >= 4 for r in results), results
    assert all(r["diffstat"] == "1 file changed, 1 insertion(+)" for r in results), results
    assert took < 11  # in parallel: one after the other would sleep 3 x 4 s
    table = forks.ok("fork", "exec", "--all", "coder", "--", "true")
    assert table.splitlines()[0].split() == ["FORK", "EXIT", "DURATION", "DIFFSTAT"]
    assert len(table.splitlines()) == 4
    forks.ok("fork", "rm", "--all", "--yes", "--force")


def test_routing_and_audit_work_per_fork(forks: Forks, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = forks.repo / "aifo.yaml"
    secret = "    env:\n      API_TOKEN: {from_host: AIFO_TEST_FORK_TOKEN, secret: true}\n"
    monkeypatch.setenv("AIFO_TEST_FORK_TOKEN", "tok-fork-123")
    text = spec.read_text().replace(
        "    networks: [sandbox]\n", "    networks: [sandbox]\n    toolchains: [box]\n" + secret, 1
    )
    spec.write_text(text + "    tools: [busybox]\n")  # the agent's image has no busybox
    git(forks.repo, "commit", "-qam", "routed")
    forks.ok("fork", "new", "2")
    for n in (1, 2):
        assert (
            forks.ok("fork", "exec", str(n), "coder", "--", "busybox", "echo", f"hi{n}")
            == f"hi{n}\n"
        )
    # every fork at once: each command routed through its own fork's sidecar (it used to run
    # unrouted, without the agent's secrets: the agent's image has no busybox, exit 127)
    every = ("fork", "exec", "--all", "-o", "json", "coder", "--")
    proc = forks.aifo(*every, "sh", "-c", 'test "$API_TOKEN" = tok-fork-123 && busybox echo all')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(proc.stdout)["results"]
    assert [(r["fork"], r["exit_code"], r["output_tail"]) for r in results] == [
        (1, 0, "all\n"), (2, 0, "all\n"),
    ]  # fmt: skip
    for n in (1, 2):
        audit = forks.state / "sessions" / f"{forks.session}-f{n}" / "audit.jsonl"
        routed = [json.loads(line) for line in audit.read_text().splitlines()]
        routed = [r for r in routed if r.get("kind") == "route"]
        assert [r["argv"] for r in routed] == [
            ["busybox", "echo", f"hi{n}"], ["busybox", "echo", "all"],
        ]  # fmt: skip
    forks.ok("fork", "rm", "--all", "--yes")


def test_shell_and_run_in_a_fork(forks: Forks) -> None:
    spec = forks.repo / "aifo.yaml"
    spec.write_text(
        spec.read_text().replace(
            "    command: [sleep, infinity]\n",
            "    command: [sleep, infinity]\n    run: [git, rev-parse, --abbrev-ref, HEAD]\n",
            1,
        )
    )
    git(forks.repo, "commit", "-qam", "run")
    forks.ok("fork", "new", "1")
    shell = forks.aifo("fork", "shell", "1", "coder", stdin="pwd; git status --short | wc -l\n")
    assert shell.returncode == 0 and shell.stdout.split() == ["/workspace", "0"], shell.stderr
    assert forks.ok("fork", "run", "1", "coder").strip() == f"aifo/{forks.session}/1"
    refused = forks.aifo("fork", "run", "1", "box")
    assert refused.returncode == 2 and "aifo fork exec 1 box" in refused.stderr
    forks.ok("fork", "rm", "1", "--yes")


def test_each_fork_gets_its_own_egress_proxy(forks: Forks) -> None:
    spec = forks.repo / "aifo.yaml"
    text = spec.read_text().replace(
        "    networks: [sandbox]\n",
        '    networks: [sandbox]\n    egress: {allow: ["example.com:443"]}\n',
        1,
    )
    spec.write_text(
        text.replace("  sandbox: {internal: true}\n", "  sandbox: {internal: true}\n  out: {}\n")
    )
    git(forks.repo, "commit", "-qam", "egress")
    forks.ok("fork", "new", "2")
    for n in (1, 2):
        name = f"aifo-{forks.session}-f{n}-egress-proxy"
        inspect = subprocess.run(
            ["docker", "inspect", name], capture_output=True, text=True, check=True
        )
        labels = json.loads(inspect.stdout)[0]["Config"]["Labels"]
        assert labels["io.aifo.session"] == f"{forks.session}-f{n}"
        env = forks.ok("fork", "exec", str(n), "coder", "--", "sh", "-c", "echo $HTTPS_PROXY")
        assert env.strip() == "http://egress-proxy:3128"
    forks.ok("fork", "rm", "--all", "--yes")
