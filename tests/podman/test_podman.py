"""The real-engine guarantees on Podman: a representative subset of the Docker tier, run with
`AIFO_ENGINE=podman` against Podman's API service (started by aifo itself) and checked through
an independent view (the `podman` CLI). Marked `podman`: CI runs it as its own pass after
installing Podman (`scripts/ensure-podman`); without `podman` on PATH it skips (fails in CI).

Covered: the adapter's dialect (internal networks, labels, two networks + `none`, ulimits,
init, typed not-found/conflict/missing-image errors), apply from nothing exactly as declared and
never on the default network, a no-op apply with zero mutating calls, the session lock over the
API (its image built when missing), fail-closed network verification, every fault of an apply
rolled back, healthchecks without systemd, SIGKILL mid-apply rolled back by the next command,
destroy leaving nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aifo.apply.journal import JOURNAL
from aifo.engine.choose import connect
from aifo.engine.podman import PodmanEngine
from aifo.errors import ApplyFailed, Conflict, ImageMissing, NotFound
from aifo.model import Container
from tests.apply.helpers import (
    IDLE,
    IMAGE,
    apply_file,
    counting,
    destroy_all,
    docker_state,
    faulty,
    shape,
    spec_v1,
    write_spec,
)

pytestmark = [pytest.mark.podman, pytest.mark.timeout(600)]
EMPTY: dict[str, object] = {"containers": {}, "networks": {}, "volumes": []}


def _podman(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *argv], capture_output=True, text=True, timeout=120)


@pytest.fixture(autouse=True)
def podman_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("podman") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true and podman is missing (run scripts/ensure-podman)")
        pytest.skip("podman is not installed (scripts/ensure-podman)")
    monkeypatch.setenv("AIFO_ENGINE", "podman")


@pytest.fixture
def pod_session(session_name: str) -> Iterator[str]:
    """A test session whose Podman objects go at teardown (the shared fixtures clean Docker)."""
    yield session_name
    label = f"label=io.aifo.session={session_name}"
    ids = _podman("ps", "-aq", "--filter", label).stdout.split()
    if ids:
        _podman("rm", "-f", "-v", *ids)
    nets = _podman("network", "ls", "-q", "--filter", label).stdout.split()
    if nets:
        _podman("network", "rm", "-f", *nets)
    vols = _podman("volume", "ls", "-q", "--filter", label).stdout.split()
    if vols:
        _podman("volume", "rm", "-f", *vols)


def _state(session: str) -> dict[str, object]:
    return docker_state(session, cli="podman")


def test_the_adapter_speaks_podman(pod_session: str) -> None:
    engine = connect()
    assert isinstance(engine, PodmanEngine)
    labels = {"io.aifo.session": pod_session}
    nets = [f"aifo-{pod_session}-a", f"aifo-{pod_session}-b"]
    for net in nets:
        engine.create_network(net, driver="bridge", internal=True, subnet=None, labels=labels)
    found = {n.name: n for n in engine.inspect_networks([*nets, "absent-net"])}
    assert sorted(found) == nets
    assert all(n.internal and n.labels == labels for n in found.values())
    with pytest.raises(Conflict):
        engine.create_network(nets[0], driver="bridge", internal=True, subnet=None, labels=labels)

    c = Container(
        name="c", role="service", docker_name=f"aifo-{pod_session}-c", image=IMAGE,
        command=("sleep", "300"), aliases=("c",), cap_drop=("ALL",), read_only=True,
    )  # fmt: skip
    cid = engine.create_container(c, name=c.docker_name, labels=labels, networks=nets, volumes={})
    lone = Container(name="n", role="service", docker_name=f"aifo-{pod_session}-n", image=IMAGE)
    nid = engine.create_container(
        lone, name=lone.docker_name, labels=labels, networks=[], volumes={}
    )
    engine.start_containers([cid, nid])
    observed = {o.id: o for o in engine.inspect_containers([cid, nid, "absent"])}
    assert observed[cid].state == "running" and observed[cid].networks == tuple(nets)
    assert observed[nid].networks == ()
    code, out = engine.exec_capture(cid, ["sh", "-c", "ulimit -n; cat /proc/1/comm"])
    assert code == 0 and out.split()[0].isdigit() and out.split()[1] == "podman-init"  # catatonit

    with pytest.raises(Conflict):
        engine.create_container(c, name=c.docker_name, labels=labels, networks=[], volumes={})
    calls: list[Callable[[], None]] = [
        lambda: engine.start_container("aifo-absent"),
        lambda: engine.remove_container("aifo-absent"),
        lambda: engine.remove_volume("aifo-absent"),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call()
    missing = Container(name="m", role="service", docker_name="m", image="aifo-test/absent:1")
    with pytest.raises(ImageMissing):
        engine.create_container(missing, name=f"aifo-{pod_session}-m", labels=labels, networks=[],
                                volumes={})  # fmt: skip
    engine.remove_containers([cid, nid, "aifo-absent"])  # missing refs are ignored
    assert engine.inspect_containers([cid, nid]) == []


def test_apply_noop_and_destroy(pod_session: str, state_dir: Path, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, spec_v1(pod_session))
    apply_file(counting(), spec)
    first = _state(pod_session)
    names = {f"aifo-{pod_session}-{n}" for n in ("db", "cache", "worker", "api", "bot")}
    containers = first["containers"]
    assert isinstance(containers, dict)
    assert set(containers) == names
    assert all(c["running"] for c in containers.values())
    assert containers[f"aifo-{pod_session}-worker"]["networks"] == ["none"]
    assert containers[f"aifo-{pod_session}-api"]["networks"] == [
        f"aifo-{pod_session}-back", f"aifo-{pod_session}-front"
    ]  # fmt: skip
    assert not any("podman" in c["networks"] for c in containers.values())  # never the default
    probe = counting()
    result = apply_file(probe, spec)
    assert not result.plan.has_changes and probe.count == 0, probe.calls
    assert _state(pod_session) == first
    destroy_all(pod_session)
    assert _state(pod_session) == {**EMPTY, "volumes": []}


@pytest.mark.slow
def test_every_fault_of_an_apply_rolls_back(
    pod_session: str, state_dir: Path, tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, spec_v1(pod_session))
    probe = counting()
    apply_file(probe, spec)
    total = probe.count
    target = shape(_state(pod_session))
    destroy_all(pod_session)
    assert _state(pod_session) == EMPTY
    for k in range(1, total + 1):
        with pytest.raises(ApplyFailed) as caught:
            apply_file(faulty(k), spec)
        assert f"injected fault at mutating call {k}" in str(caught.value)
        assert _state(pod_session) == EMPTY, f"k={k}: not rolled back"
        assert not (state_dir / "sessions" / pod_session / JOURNAL).exists()
    apply_file(counting(), spec)
    assert shape(_state(pod_session)) == target


def test_network_not_as_declared_fails_closed(pod_session: str, tmp_path: Path) -> None:
    """A network with our name but without our label is never adopted; nothing starts."""
    _podman("network", "create", "--internal", f"aifo-{pod_session}-back")
    try:
        spec = write_spec(tmp_path, spec_v1(pod_session))
        with pytest.raises(Exception, match="aifo-" + pod_session + "-back"):
            apply_file(counting(), spec)
        assert _state(pod_session)["containers"] == {}
    finally:
        _podman("network", "rm", "-f", f"aifo-{pod_session}-back")


def test_healthy_dependency_without_systemd(pod_session: str, tmp_path: Path) -> None:
    spec = f"""\
version: 1
session: {pod_session}
services:
  db:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    healthcheck: {{test: "test -e /tmp/up || touch /tmp/up", interval: 1s, retries: 5}}
  web:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    depends_on: {{db: {{condition: healthy}}}}
"""
    apply_file(counting(), write_spec(tmp_path, spec))
    health = _podman("inspect", "-f", "{{.State.Health.Status}}", f"aifo-{pod_session}-db")
    assert health.stdout.strip() == "healthy"
    assert len(_state(pod_session)["containers"]) == 2  # type: ignore[arg-type]


def test_sigkill_mid_apply_is_rolled_back(
    pod_session: str, state_dir: Path, tmp_path: Path
) -> None:
    from tests.commands.test_reconcile_cli import Background
    from tests.security.helpers import aifo

    spec = str(write_spec(tmp_path, spec_v1(pod_session)))
    run = Background("apply", spec, "--yes", pause_at=6)
    try:
        run.wait_for("aifo-test: paused at 6")
        os.kill(run.proc.pid, signal.SIGKILL)
    finally:
        run.stop()
    assert _state(pod_session) != EMPTY
    half_done = _state(pod_session)
    status = aifo("status", spec)  # read-only: says what is pending, changes nothing
    assert "unfinished apply" in status.stderr and "aifo recover" in status.stderr
    assert _state(pod_session) == half_done
    recovered = aifo("recover", spec)
    assert "rolled back" in recovered.stdout, recovered.stderr
    assert _state(pod_session) == EMPTY


def test_the_session_lock_over_podmans_api(
    pod_session: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock is one API request each way on Podman too; on a store without the lock image
    it is built (through `podman build`) first."""
    from aifo.apply.enginelock import EngineLock, lock_name
    from aifo.engine import args, body

    image = f"aifo-session-lock:test-{pod_session}"  # not the shared one: others use it
    monkeypatch.setattr(args, "LOCK_IMAGE", image)
    monkeypatch.setattr(body, "LOCK_IMAGE", image)
    engine = connect()
    assert isinstance(engine, PodmanEngine)
    try:
        with EngineLock(engine, pod_session, command="apply", timeout_s=5) as held:
            listed = _podman("ps", "-a", "--filter", f"name={lock_name(pod_session)}",
                             "--format", "{{.ID}} {{.Image}}").stdout.split()  # fmt: skip
            lock_id = held.id
            assert lock_id and lock_id.startswith(listed[0]) and listed[1].endswith(image)
        assert _podman("ps", "-aq", "--filter", f"name={lock_name(pod_session)}").stdout == ""
        with pytest.raises(NotFound):
            engine.remove_lock(lock_id)
    finally:
        _podman("image", "rm", "-f", image)


def test_the_service_aifo_starts_outlives_the_folder_it_was_started_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A private service on its own socket, started from a folder that then goes away (a
    # project, a temporary folder): it must keep starting containers.
    from aifo.engine.podman import ServiceWire

    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    sock = tmp_path / "podman.sock"
    wire = ServiceWire(str(sock), "podman", timeout_s=60)
    wire.start_service()
    pid = wire.peer_pid()
    assert pid is not None
    try:
        monkeypatch.chdir(tmp_path)
        folder.rmdir()
        assert os.readlink(f"/proc/{pid}/cwd") == "/"
        done = subprocess.run(
            ["podman", "--url", f"unix://{sock}", "run", "--rm", "--ulimit",
             "nofile=1024:1024", "--ulimit", "nproc=1024:1024", IMAGE, "true"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    finally:
        os.kill(pid, signal.SIGTERM)
