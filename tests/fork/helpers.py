"""Fork-mode test pieces: a real git repository with a spec, `aifo` in-process or as a
process, and an independent view of what a test's forks left (Docker objects, clones, refs)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

AGENT_IMAGE = "aifo-stand-in/go:bookworm"  # a stand-in with git: the agent's git must work
TOOL_IMAGE = "aifo-test/busybox:latest"


def spec(session: str, extra: str = "") -> str:
    return f"""\
version: 1
session: {session}
networks:
  sandbox: {{internal: true}}
volumes:
  cache: {{}}
agents:
  coder:
    image: {AGENT_IMAGE}
    pull: never
    command: [sleep, infinity]
    networks: [sandbox]
    mounts: [{{volume: cache, target: /cache}}]
toolchains:
  box:
    image: {TOOL_IMAGE}
    pull: never
    command: [sleep, "2147483647"]
    networks: [sandbox]
{extra}"""


def git(repo: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False, timeout=120
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {proc.stderr}")
    return proc.stdout.strip()


def make_repo(root: Path, session: str, *, extra: str = "", commit: bool = True) -> Path:
    """A repository in a folder with a space in its name, holding aifo.yaml and a file."""
    repo = root / "my repo"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "user@example.invalid")
    git(repo, "config", "user.name", "Test User")
    (repo / "aifo.yaml").write_text(spec(session, extra))
    (repo / "a.txt").write_text("hello\n")
    if commit:
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "init")
    return repo


@dataclass
class Forks:
    """One test's repository and session, with `aifo` run in it."""

    repo: Path
    session: str
    state: Path

    def aifo(self, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "aifo", "-f", str(self.repo / "aifo.yaml"), *argv],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=self.repo,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            check=False,
        )

    def ok(self, *argv: str) -> str:
        proc = self.aifo(*argv)
        assert proc.returncode == 0, f"aifo {' '.join(argv)}: {proc.returncode}\n{proc.stderr}"
        return proc.stdout

    def ls(self) -> list[dict[str, Any]]:
        forks: list[dict[str, Any]] = json.loads(self.ok("fork", "ls", "-o", "json"))["forks"]
        return forks

    def ls_with(self, run: Any) -> list[dict[str, Any]]:
        """`fork ls -o json` through another runner (`run(forks, *argv) -> stdout`)."""
        forks: list[dict[str, Any]] = json.loads(run(self, "fork", "ls", "-o", "json"))["forks"]
        return forks

    @property
    def clones(self) -> Path:
        return self.repo.parent / f"{self.repo.name}.aifo-forks"


def docker_objects(prefix: str) -> list[str]:
    """Containers, networks and volumes of sessions `<prefix>-f*` (independent of aifo)."""
    found: list[str] = []
    for kind in ("container", "network", "volume"):
        listing = ["docker", kind, "ls", "--format", '{{.Label "io.aifo.session"}} {{.Name}}']
        if kind == "container":
            listing = ["docker", "ps", "-a", "--format", '{{.Label "io.aifo.session"}} {{.Names}}']
        out = subprocess.run(listing, capture_output=True, text=True, check=True).stdout
        found += [
            f"{kind} {line.split(' ', 1)[1]}"
            for line in out.splitlines()
            if line.split(" ", 1)[0].startswith(f"{prefix}-f")
        ]
    return sorted(found)


def remove_forks_of(prefix: str) -> None:
    """Teardown: every object of the test's fork sessions, by label prefix."""
    for kind, rm in (
        ("container", ["docker", "rm", "-f", "-v"]),
        ("network", ["docker", "network", "rm"]),
        ("volume", ["docker", "volume", "rm", "-f"]),
    ):
        listing = ["docker", kind, "ls", "-q", "--filter", "label=io.aifo.session"]
        if kind == "container":
            listing = ["docker", "ps", "-aq", "--filter", "label=io.aifo.session"]
        refs = subprocess.run(listing, capture_output=True, text=True).stdout.split()
        mine = []
        for ref in refs:
            label = subprocess.run(
                ["docker", kind, "inspect", "--format", '{{index .Config.Labels "io.aifo.session"}}'
                 if kind == "container" else '{{index .Labels "io.aifo.session"}}', ref],
                capture_output=True, text=True,
            ).stdout.strip()  # fmt: skip
            if label.startswith(f"{prefix}-f"):
                mine.append(ref)
        if mine:
            subprocess.run([*rm, *mine], capture_output=True)
    for tool, rule in guard_rules_of(prefix):  # the host guard of the forks' internal networks
        subprocess.run([tool, "-w", "10", "-D", *shlex.split(rule)[1:]], capture_output=True)


def guard_rules_of(prefix: str) -> list[tuple[str, str]]:
    """(tool, `-A INPUT …` line) of every host guard rule of the test's fork sessions."""
    found: list[tuple[str, str]] = []
    for tool in ("iptables", "ip6tables"):
        listing = subprocess.run([tool, "-w", "10", "-S", "INPUT"], capture_output=True, text=True)
        found += [
            (tool, line)
            for line in listing.stdout.splitlines()
            if f"aifo-guard session={prefix}-f" in line
        ]
    return found


def leftovers(forks: Forks) -> dict[str, Any]:
    """What a failed or rolled-back `fork new` must not leave."""
    clones = sorted(p.name for p in forks.clones.iterdir()) if forks.clones.exists() else []
    folder = forks.state / "forks" / forks.session
    state = (
        sorted(p.name for p in folder.iterdir() if p.name not in {"lock"})
        if folder.exists()
        else []
    )
    return {
        "objects": docker_objects(forks.session),
        "guard rules": guard_rules_of(forks.session),
        "clones": clones,
        "state": state,
        "refs": git(forks.repo, "for-each-ref", "--format=%(refname)"),
    }


needs_git_image = pytest.mark.usefixtures("agent_image")
