"""Every example whose images are all busybox (so it runs offline on the seeded stand-ins) is
applied, checked against Docker and destroyed, under a test session name.

Which examples qualify is decided from their compiled specs: no image is built and every image is
busybox. The isolation each example promises is checked with `docker inspect` and from inside the
containers (DNS names, a listener in the toolchain), never with traffic leaving the session's own
networks. (Whether an `internal` network really has no way out is Docker's part: on this engine
version its containers still get a default route and iptables does the blocking.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from aifo.compile import compile_session
from aifo.compile.hostcontext import check_context
from aifo.model import Session
from aifo.sessionspec import resolve
from tests.examples.aifo_lines import aifo_invocations, comment_commands

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SPECS = sorted(EXAMPLES.glob("*/aifo.yaml"))
BUSYBOX_REPOSITORIES = {"busybox", "library/busybox", "docker.io/library/busybox"}
PORT = 7000  # the toolchain's test listener (loopback of the session's own networks)


def _repository(ref: str) -> str:
    name = ref.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def _compile(spec: Path) -> Session:
    environ = {"HOME": "/nonexistent", "PATH": "/usr/bin:/bin"}
    return compile_session(resolve(spec, environ=environ), context=check_context())


def busybox_only(session: Session) -> bool:
    """Runs offline on `scripts/seed-images`' stand-ins: nothing built, every image busybox."""
    return bool(session.images) and all(
        image.build is None and _repository(image.ref) in BUSYBOX_REPOSITORIES
        for image in session.images
    )


COMPILED = {spec.parent.name: _compile(spec) for spec in SPECS}
BUSYBOX_EXAMPLES = sorted(name for name, session in COMPILED.items() if busybox_only(session))


def test_the_busybox_examples_are_found() -> None:
    # The selection is computed; this pins the ones the catalog promises CI applies.
    assert {"quickstart", "multi-agent-isolated"} <= set(BUSYBOX_EXAMPLES)
    # The others build an agent image from a real base image: they need a registry.
    assert {"ci", "node-aider", "rust-codex"}.isdisjoint(BUSYBOX_EXAMPLES)


@pytest.mark.parametrize(
    ("ref", "busybox"),
    [
        ("busybox:latest", True),
        ("busybox", True),
        ("docker.io/library/busybox:1.36@sha256:" + "0" * 64, True),
        ("aifo-test/busybox:latest", False),
        ("rust:1.82-slim", False),
        ("localhost:5000/busybox:1", False),
    ],
)
def test_what_counts_as_busybox(ref: str, busybox: bool) -> None:
    assert (_repository(ref) in BUSYBOX_REPOSITORIES) is busybox


# --- the Docker side ----------------------------------------------------------------------------


def _docker(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *argv], capture_output=True, text=True, timeout=60, check=False
    )


@dataclass(frozen=True)
class Applied:
    """An example applied under a test session name: its folder, spec and compiled session."""

    folder: Path
    session: Session
    env: dict[str, str]

    def aifo(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "aifo", *argv],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def container(self, name: str) -> str:
        return next(c.docker_name for c in self.session.containers if c.name == name)

    def inspect(self) -> dict[str, dict[str, Any]]:
        """`docker inspect` of every declared container, by spec name."""
        names = [c.docker_name for c in self.session.containers]
        proc = _docker("container", "inspect", *names)
        assert proc.returncode == 0, proc.stderr
        by_docker = {d["Name"].lstrip("/"): d for d in json.loads(proc.stdout)}
        return {c.name: by_docker[c.docker_name] for c in self.session.containers}

    def networks_of(self, name: str) -> set[str]:
        """Spec names of the networks container NAME is attached to, as Docker reports them."""
        attached = set(self.inspect()[name]["NetworkSettings"]["Networks"])
        by_docker = {n.docker_name: n.name for n in self.session.networks}
        unknown = attached - set(by_docker)
        assert not unknown, f"{name} is attached to undeclared networks {unknown}"
        return {by_docker[d] for d in attached}

    def internal(self) -> dict[str, bool]:
        """Each network's `Internal` flag, as Docker reports it, by spec name."""
        proc = _docker("network", "inspect", *(n.docker_name for n in self.session.networks))
        assert proc.returncode == 0, proc.stderr
        flags = {d["Name"]: d["Internal"] for d in json.loads(proc.stdout)}
        return {n.name: flags[n.docker_name] for n in self.session.networks}

    def reaches(self, source: str, target: str) -> bool:
        """Whether SOURCE (via `aifo exec`) connects to TARGET's listener by TARGET's DNS name."""
        proc = self.aifo("exec", "aifo.yaml", source, "--", "nc", "-w", "3", target, str(PORT))
        return proc.returncode == 0 and "ok" in proc.stdout

    def listen(self, name: str) -> None:
        cmd = ["nc", "-ll", "-p", str(PORT), "-e", "echo", "ok"]
        proc = _docker("exec", "-d", self.container(name), *cmd)
        assert proc.returncode == 0, proc.stderr


def _by_label(session: str) -> list[str]:
    found = []
    for kind in ("container", "network", "volume"):
        listing = ["ls", "-a"] if kind == "container" else ["ls"]
        proc = _docker(kind, *listing, "-q", "--filter", f"label=io.aifo.session={session}")
        assert proc.returncode == 0, proc.stderr
        found += [f"{kind} {ref}" for ref in proc.stdout.split()]
    return found


def _by_name(session: str) -> list[str]:
    found = []
    for kind in ("container", "network", "volume"):
        listing = ["ls", "-a", "--format", "{{.Names}}"] if kind == "container" else ["ls"]
        proc = _docker(kind, *listing, *([] if kind == "container" else ["--format", "{{.Name}}"]))
        assert proc.returncode == 0, proc.stderr
        found += [f"{kind} {n}" for n in proc.stdout.split() if n.startswith(f"aifo-{session}-")]
    return found


def _check_generic(app: Applied) -> None:
    """What every example promises: each network's `internal` flag as declared, containers on
    exactly their declared networks (never `bridge`), the declared root filesystem mode, agents
    reach their toolchains by name."""
    internal = app.internal()
    for net in app.session.networks:
        assert internal[net.name] is net.internal, f"network {net.name}: Internal mismatch"
    inspected = app.inspect()
    for c in app.session.containers:
        attached = set(inspected[c.name]["NetworkSettings"]["Networks"])
        assert "bridge" not in attached, f"{c.name} is on the default bridge"
        if not c.networks:
            assert attached <= {"none"}, f"{c.name} should have network mode none: {attached}"
        else:
            assert app.networks_of(c.name) == set(c.networks), c.name
        assert inspected[c.name]["HostConfig"]["ReadonlyRootfs"] is c.read_only, c.name
    toolchains = {c.id: c for c in app.session.containers}
    for tc in {t for c in app.session.containers for t in c.toolchains}:
        app.listen(toolchains[tc].name)
    for agent in (c for c in app.session.containers if c.toolchains):
        for tc in agent.toolchains:
            assert app.reaches(agent.name, toolchains[tc].name), f"{agent.name} -> {tc}"


def _quickstart(app: Applied) -> None:
    # "one idle busybox agent on one internal network"
    assert [c.name for c in app.session.containers] == ["hello"]
    assert app.networks_of("hello") == {"sandbox"}
    assert app.internal() == {"sandbox": True}


def _multi_agent_isolated(app: Applied) -> None:
    # "Two agents sharing one toolchain on an internal network; only the planner may also reach
    # the outside world."
    internal = app.internal()
    assert internal == {"sandbox": True, "egress": False}
    agents = [c.name for c in app.session.containers if c.role == "agent"]
    assert sorted(agents) == ["planner", "worker"]
    with_egress = {a for a in agents if any(not internal[n] for n in app.networks_of(a))}
    assert with_egress == {"planner"}
    assert app.networks_of("busybox") == {"sandbox"}  # the toolchain: internal only
    assert all("sandbox" in app.networks_of(a) for a in agents)
    assert app.reaches("worker", "busybox") and app.reaches("planner", "busybox")
    # The worker's root filesystem is read-only; /tmp (compile's tmpfs) is writable.
    assert app.aifo("exec", "aifo.yaml", "worker", "--", "touch", "/x").returncode != 0
    assert app.aifo("exec", "aifo.yaml", "worker", "--", "touch", "/tmp/x").returncode == 0
    # The example's `aifo run` lines: each agent's run: command.
    for agent, says in (("planner", "sandbox and egress"), ("worker", "sandbox only")):
        ran = app.aifo("run", "aifo.yaml", agent)
        assert ran.returncode == 0 and says in ran.stdout, ran.stderr


CLAIMS: dict[str, Callable[[Applied], None]] = {
    "quickstart": _quickstart,
    "multi-agent-isolated": _multi_agent_isolated,
}


def _copy_as(example: str, session: str, tmp_path: Path) -> Path:
    folder = tmp_path / example
    shutil.copytree(EXAMPLES / example, folder)
    spec = folder / "aifo.yaml"
    text, n = re.subn(r"^session:[ \t]*\S+", f"session: {session}", spec.read_text(), flags=re.M)
    assert n == 1, f"examples/{example}/aifo.yaml: expected one top-level `session:` line"
    spec.write_text(text)
    return folder


@pytest.mark.docker
@pytest.mark.timeout(240)
@pytest.mark.parametrize("example", BUSYBOX_EXAMPLES)
@pytest.mark.slow
def test_busybox_example_applies_and_destroys(
    example: str, new_session_name: Callable[[], str], tmp_path: Path
) -> None:
    name = new_session_name()
    folder = _copy_as(example, name, tmp_path)
    session = _compile(folder / "aifo.yaml")
    assert session.name == name
    for image in session.images:  # never pulled: the seeded stand-in must be there
        assert _docker("image", "inspect", image.ref).returncode == 0, (
            f"{image.ref} is missing: run scripts/seed-images"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIFO_TEST_")}
    env["AIFO_STATE_DIR"] = str(tmp_path.parent / f"{tmp_path.name}-state")
    app = Applied(folder, session, env)

    applied = app.aifo("apply", "aifo.yaml", "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert f"Applied session '{name}'" in applied.stdout
    again = app.aifo("plan", "aifo.yaml", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr  # nothing left to do

    status = app.aifo("status", "aifo.yaml", "-o", "json")
    assert status.returncode == 0, status.stderr
    rows = json.loads(status.stdout)["objects"]
    containers = {r["name"]: r for r in rows if r["kind"] == "container"}
    assert set(containers) == {c.docker_name for c in session.containers}
    assert all(r["state"] == "running" and r["drift"] is False for r in containers.values()), rows
    networks = [r for r in rows if r["kind"] == "network"]
    assert {r["name"] for r in networks} == {n.docker_name for n in session.networks}
    assert all(r["state"] == "present" and not r.get("note") for r in networks), rows
    assert not [r for r in rows if r.get("note")], rows  # no leftovers, no collisions

    _check_generic(app)
    claim = CLAIMS.get(example)
    if claim is not None:
        claim(app)
    # The commands the example's own comments show work as written (apply/destroy: above, below).
    shown = aifo_invocations(comment_commands((folder / "aifo.yaml").read_text()))
    for argv in (a for a in shown if a[0] not in ("apply", "destroy")):
        ran = app.aifo(*argv)
        assert ran.returncode == 0, f"aifo {' '.join(argv)}: {ran.stdout}{ran.stderr}"

    destroyed = app.aifo("destroy", "aifo.yaml", "--yes")
    assert destroyed.returncode == 0, destroyed.stderr
    assert f"Destroyed session '{name}'" in destroyed.stdout
    assert _by_label(name) == [] and _by_name(name) == []
    after = json.loads(app.aifo("status", "aifo.yaml", "-o", "json").stdout)["objects"]
    assert {r["state"] for r in after} == {"missing"}, after


def test_every_busybox_example_has_its_claims_checked() -> None:
    assert set(BUSYBOX_EXAMPLES) <= set(CLAIMS), "add the example's isolation claims to CLAIMS"
