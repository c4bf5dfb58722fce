"""DockerEngine against the real engine. Every object carries `io.aifo.session=<session_name>`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from aifo.engine import DockerEngine
from aifo.engine.api import Want
from aifo.engine.hijack import CAPTURE_LIMIT
from aifo.engine.socket_engine import SocketEngine
from aifo.engine.wire import DEFAULT_SOCKET
from aifo.errors import Conflict, EngineError, ImageMissing, NotFound
from aifo.model import Build, Container, EnvVar
from aifo.plan.verify import verify_attachments
from aifo.ui.stream import write_bytes
from tests.poll import until

pytestmark = pytest.mark.docker


def _inspect(kind: str, ref: str) -> dict[str, object]:
    out = subprocess.run(
        ["docker", kind, "inspect", ref], capture_output=True, text=True, check=True
    ).stdout
    data = json.loads(out)[0]
    assert isinstance(data, dict)
    return data


@pytest.fixture(params=["cli", "api"])
def engine(request: pytest.FixtureRequest) -> DockerEngine:
    """Both transports: the CLI alone, and the Engine API on the socket (the hot path)."""
    if request.param == "api":
        return SocketEngine(DEFAULT_SOCKET)
    return DockerEngine()


def _calls(engine: DockerEngine, *, cli: int, api: int) -> int:
    return api if isinstance(engine, SocketEngine) else cli


@pytest.fixture
def labels(session_name: str) -> dict[str, str]:
    return {"io.aifo.session": session_name}


def _ctr(session: str, name: str, image: str, **kw: object) -> Container:
    return Container(
        name=name, role="agent", docker_name=f"aifo-{session}-{name}", image=image,
        command=("sleep", "300"), **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def _create(
    engine: DockerEngine, c: Container, labels: dict[str, str], networks: list[str] | None = None
) -> str:
    return engine.create_container(
        c, name=c.docker_name, labels=labels, networks=networks or [], volumes={}
    )


def test_ping_and_security_options(engine: DockerEngine) -> None:
    engine.ping()
    assert any(opt.startswith("name=") for opt in engine.security_options())


def test_observe_is_batched(
    engine: DockerEngine, session_name: str, labels: dict[str, str], busybox_image: str
) -> None:
    net = f"aifo-{session_name}-net"
    vol = f"aifo-{session_name}-vol"
    engine.create_network(net, driver="bridge", internal=True, subnet=None, labels=labels)
    engine.create_volume(vol, labels=labels)
    names = []
    for i in range(10):
        c = _ctr(session_name, f"c{i}", busybox_image)
        _create(engine, c, labels, [net])
        names.append(c.docker_name)
    # a foreign container with a name we want: no session label
    foreign = f"aifo-{session_name}-foreign"
    subprocess.run(
        ["docker", "create", "--label", f"io.aifo.session={session_name}-other", "--name",
         foreign, busybox_image], check=True, capture_output=True,
    )  # fmt: skip
    try:
        before = engine.calls
        snap = engine.observe(
            session_name,
            Want(
                containers=(*names, foreign, f"aifo-{session_name}-absent"),
                networks=(net,),
                volumes=(vol,),
                external_networks=("bridge",),
                images=(busybox_image, "aifo-test/absent:1"),
            ),
        )
        # CLI: 2 rounds: 3 listings + 1 image inspect, then 3 inspects (docs/engine.md's 7);
        # API: 3 listings + 2 images + 1 per container (11)
        assert engine.calls - before == _calls(engine, cli=7, api=3 + 2 + 11)
        assert sorted(snap.containers) == sorted(names)
        assert list(snap.foreign_containers) == [foreign]
        assert snap.networks[net].internal and snap.networks[net].driver == "bridge"
        assert list(snap.volumes) == [vol]
        assert list(snap.external_networks) == ["bridge"]
        assert list(snap.images) == [busybox_image]
        c0 = snap.containers[names[0]]
        assert c0.state == "created" and c0.networks == (net,) and c0.image_id.startswith("sha")
        assert c0.labels["io.aifo.session"] == session_name
        before = engine.calls
        found = engine.labelled(session_name)  # destroy's view: listings only, one round
        assert engine.calls - before == 3  # both: one listing per kind
        assert sorted(found.containers) == sorted(names) and foreign not in found.containers
        assert found.containers[names[0]] == c0.id
        assert found.networks == {net: snap.networks[net].id}
        assert list(found.volumes) == [vol]
    finally:
        subprocess.run(["docker", "rm", "-f", foreign], capture_output=True)


def test_internal_network_with_subnet(
    engine: DockerEngine, session_name: str, labels: dict[str, str]
) -> None:
    name = f"aifo-{session_name}-int"
    net_id = engine.create_network(
        name, driver="bridge", internal=True, subnet="10.231.17.0/24", labels=labels
    )
    data = _inspect("network", name)
    assert data["Id"] == net_id and data["Internal"] is True
    [observed] = engine.inspect_networks([name, "aifo-no-such-network-x"])
    assert observed.subnets == ("10.231.17.0/24",) and observed.internal
    with pytest.raises(Conflict):
        engine.create_network(name, driver="bridge", internal=True, subnet=None, labels=labels)
    engine.remove_network(name)
    with pytest.raises(NotFound, match=name):
        engine.remove_network(name)


@pytest.mark.slow
def test_two_networks_and_none(
    engine: DockerEngine, session_name: str, labels: dict[str, str], busybox_image: str
) -> None:
    nets = [f"aifo-{session_name}-a", f"aifo-{session_name}-b"]
    for net in nets:
        engine.create_network(net, driver="bridge", internal=True, subnet=None, labels=labels)
    two = _ctr(session_name, "two", busybox_image, aliases=("two",))
    none = _ctr(session_name, "none", busybox_image)
    ids = [_create(engine, two, labels, nets), _create(engine, none, labels)]
    engine.start_containers(ids)
    observed = {c.name: c for c in engine.inspect_containers(ids)}
    assert observed[two.docker_name].networks == tuple(sorted(nets))
    assert observed[none.docker_name].networks == ("none",)
    assert verify_attachments("two", nets, observed[two.docker_name]) == []
    assert verify_attachments("none", [], observed[none.docker_name]) == []
    settings = _inspect("container", two.docker_name)["NetworkSettings"]
    assert isinstance(settings, dict)
    for net in nets:
        assert "two" in settings["Networks"][net]["Aliases"]
    # the alias resolves from a peer on the second network
    peer = _ctr(session_name, "peer", busybox_image)
    peer_id = _create(engine, peer, labels, [nets[1]])
    engine.start_container(peer_id)
    assert engine.exec_capture(peer_id, ["nslookup", "two"])[0] == 0


def test_secrets_only_at_exec(
    engine: DockerEngine, session_name: str, labels: dict[str, str], busybox_image: str
) -> None:
    c = _ctr(
        session_name, "sec", busybox_image,
        env=(EnvVar("PLAIN", "visible"), EnvVar("K", None, secret=True, from_host="K")),
    )  # fmt: skip
    cid = _create(engine, c, labels)
    engine.start_container(cid)
    config = _inspect("container", cid)["Config"]
    assert isinstance(config, dict)
    assert "PLAIN=visible" in config["Env"]
    assert not any(e.startswith("K=") for e in config["Env"])
    assert engine.exec(cid, ["sh", "-c", "exit 7"]) == 7
    assert engine.exec(cid, ["sh", "-c", 'test "$K" = v3ry-s3cret'], env={"K": "v3ry-s3cret"}) == 0
    code, out = engine.exec_capture(
        cid, ["sh", "-c", 'echo "$K"; id -u'], env={"K": "x1"}, user="65534"
    )
    assert (code, out) == (0, "x1\n65534\n")
    assert engine.exec_capture(cid, ["sh", "-c", "exit 3"])[0] == 3
    script = "echo a; sleep 0.2; echo b >&2; sleep 0.2; echo c"
    assert engine.exec_capture(cid, ["sh", "-c", script]) == (0, "a\nb\nc\n")  # one output
    code, out = engine.exec_capture(cid, ["sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x"])
    assert (code, len(out), set(out)) == (0, CAPTURE_LIMIT, {"x"})  # its last MiB, bounded
    code, out = engine.exec_capture(cid, ["sh", "-c", "yes é | head -c 3000000"])
    wrote = "é\n".encode() * 1_000_000  # its last MiB of bytes, on both adapters alike
    assert (code, out) == (0, wrote[-CAPTURE_LIMIT:].decode(errors="replace"))
    with pytest.raises(EngineError, match="no exit within"):
        engine.exec_capture(cid, ["sleep", "30"], timeout_s=0.5)
    # A process started with a marker is signalled by it (one short exec, its count back),
    # matched exactly: #2 is not #20, and a prefix names a family only when asked (issue 22).
    marked = engine.exec_start(
        cid, ["sleep", "600"], env={"AIFO_EXEC_ID": "abc.20"}, pipes=True
    )  # fmt: skip
    try:
        running = ["sh", "-c", "ps -o args | grep -q '^[s]leep 600'"]
        until(lambda: engine.exec_capture(cid, running)[0] == 0, 20)
        assert engine.signal_marked(cid, "AIFO_EXEC_ID=abc.2", "TERM") == 0
        assert engine.signal_marked(cid, "AIFO_EXEC_ID=abc", "TERM") == 0
        assert marked.poll() is None
        assert engine.signal_marked(cid, "AIFO_EXEC_ID=abc.", "TERM", family=True) == 1
        assert marked.wait(timeout=30) is not None
        assert engine.signal_marked(cid, "AIFO_EXEC_ID=abc.20", "TERM") == 0  # nobody left
    finally:
        marked.kill()
    engine.stop_container(cid, timeout_s=1)
    with pytest.raises(Exception, match="not running"):
        engine.exec_capture(cid, ["true"])


def test_rename_stop_start_remove(
    engine: DockerEngine, session_name: str, labels: dict[str, str], busybox_image: str
) -> None:
    c = _ctr(session_name, "r", busybox_image)
    cid = _create(engine, c, labels)
    with pytest.raises(Conflict):
        _create(engine, c, labels)
    engine.start_container(cid)
    new = f"{c.docker_name}.next"
    engine.rename_container(cid, new)
    [observed] = engine.inspect_containers([new])
    assert observed.id == cid and observed.running
    engine.stop_container(new, timeout_s=5)
    # --init forwards SIGTERM: sleep ends on it (143), not on the SIGKILL after the timeout (137)
    assert engine.inspect_containers([cid])[0].exit_code == 143
    assert engine.find_containers([new, c.docker_name]) == {
        new: engine.inspect_containers([cid])[0]
    }
    assert engine.inspect_containers([cid])[0].state == "exited"
    engine.start_containers([new])
    assert engine.inspect_containers([cid])[0].running
    engine.remove_container(new)
    assert engine.inspect_containers([cid, new]) == []
    with pytest.raises(NotFound, match=new):
        engine.remove_container(new)
    with pytest.raises(NotFound):
        engine.start_container(new)
    with pytest.raises(NotFound):
        engine.rename_container(new, f"{new}2")


def test_batched_remove_ignores_missing(
    engine: DockerEngine, session_name: str, labels: dict[str, str], busybox_image: str
) -> None:
    ids = [_create(engine, _ctr(session_name, f"b{i}", busybox_image), labels) for i in range(3)]
    before = engine.calls
    engine.remove_containers([*ids, f"aifo-{session_name}-missing"])
    assert engine.calls - before == _calls(engine, cli=1, api=8)  # API: stop, then remove
    assert engine.inspect_containers(ids) == []


def test_batched_stop_ignores_missing(
    engine: DockerEngine, session_name: str, labels: dict[str, str], busybox_image: str
) -> None:
    ids = [_create(engine, _ctr(session_name, f"s{i}", busybox_image), labels) for i in range(2)]
    engine.start_containers(ids)
    before = engine.calls
    engine.stop_containers([*ids, f"aifo-{session_name}-missing"], timeout_s=5)
    n = _calls(engine, cli=1, api=3)
    assert engine.calls - before == n
    engine.stop_containers([])  # nothing to do: no call
    assert engine.calls - before == n
    assert [c.running for c in engine.inspect_containers(ids)] == [False, False]


@pytest.mark.slow
def test_remove_waits_for_a_removal_already_in_progress(
    engine: DockerEngine, session_name: str, labels: dict[str, str], busybox_image: str
) -> None:
    """An interrupted destroy leaves `docker rm` running in the daemon; the next destroy gets
    "removal ... is already in progress" for those containers. That is not a failure: it waits
    until they are gone, so the network removal that follows finds them detached."""
    ids = []
    for i in range(8):
        c = _ctr(session_name, f"r{i}", busybox_image)
        ids.append(_create(engine, c, labels))
        engine.start_container(ids[-1])
    other = subprocess.Popen(["docker", "rm", "-f", *ids], stdout=subprocess.DEVNULL)

    def under_way() -> bool:  # the other `docker rm` has reached the daemon
        found = engine.inspect_containers(ids)
        return len(found) < len(ids) or any(c.state == "removing" for c in found)

    try:
        until(under_way)
        engine.remove_containers(ids)
        assert engine.inspect_containers(ids) == []
    finally:
        assert other.wait(timeout=60) in (0, 1)


def test_removal_still_in_progress_times_out(
    engine: DockerEngine, session_name: str, labels: dict[str, str], busybox_image: str
) -> None:
    cid = _create(engine, _ctr(session_name, "stuck", busybox_image), labels)
    with pytest.raises(EngineError, match=r"still being removed after 0s") as err:
        engine._await_removed([cid], timeout_s=0.2)
    assert err.value.hint and "docker ps -a" in err.value.hint
    engine._await_removed([f"aifo-{session_name}-never-existed"], timeout_s=0.2)  # gone: returns


def test_volume_mount_and_remove(
    engine: DockerEngine, session_name: str, labels: dict[str, str], busybox_image: str
) -> None:
    from aifo.model import Mount

    vol = f"aifo-{session_name}-data"
    engine.create_volume(vol, labels=labels)
    c = _ctr(
        session_name, "v", busybox_image,
        mounts=(
            Mount("volume", "/data", source="data"),
            Mount("tmpfs", "/scratch", tmpfs_size="8m"),
        ),
    )  # fmt: skip
    cid = engine.create_container(
        c, name=c.docker_name, labels=labels, networks=[], volumes={"data": vol}
    )
    engine.start_container(cid)
    assert engine.exec_capture(cid, ["sh", "-c", "echo hi > /data/f && cat /data/f"]) == (0, "hi\n")
    with pytest.raises(Conflict):
        engine.remove_volume(vol)
    engine.remove_container(cid)
    engine.remove_volume(vol)
    with pytest.raises(NotFound):
        engine.remove_volume(vol)


def test_create_with_missing_image(
    engine: DockerEngine, session_name: str, labels: dict[str, str]
) -> None:
    c = _ctr(session_name, "m", "aifo-test/absent:1")
    with pytest.raises(ImageMissing, match="seed-images"):
        _create(engine, c, labels)


def test_failed_connect_removes_the_new_container(
    engine: DockerEngine,
    session_name: str,
    labels: dict[str, str],
    busybox_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # (connecting a *created* container to a missing network succeeds: the daemon only checks
    # at start, so the failure is injected here)
    nets = [f"aifo-{session_name}-a", f"aifo-{session_name}-b"]
    for net in nets:
        engine.create_network(net, driver="bridge", internal=True, subnet=None, labels=labels)
    if isinstance(engine, SocketEngine):
        real_call = engine.wire.call

        def failing_call(method: str, path: str, **kw: Any) -> Any:
            if path.endswith("/connect"):
                raise Conflict("connect: injected")
            return real_call(method, path, **kw)

        monkeypatch.setattr(engine.wire, "call", failing_call)
    else:
        real = engine.runner.run

        def failing(args: list[str], **kw: Any) -> str:
            if args[:2] == ["network", "connect"]:
                raise Conflict("connect: injected")
            return real(args, **kw)

        monkeypatch.setattr(engine.runner, "run", failing)
    c = _ctr(session_name, "half", busybox_image)
    with pytest.raises(Conflict, match="injected"):
        _create(engine, c, labels, nets)
    assert engine.inspect_containers([c.docker_name]) == []


@pytest.mark.timeout(60)  # a hang guard: without a registry the pull must fail, not wait
def test_pull_unknown_image_is_image_missing(engine: DockerEngine) -> None:
    # A registry on loopback where nothing listens: no test aims at a public registry.
    with pytest.raises(ImageMissing):
        engine.pull_image("127.0.0.1:9/aifo-test/never-published:0")


@pytest.mark.slow
def test_legacy_build(
    engine: DockerEngine, session_name: str, tmp_path: Path, busybox_image: str
) -> None:
    (tmp_path / "Dockerfile.dev").write_text(
        f'FROM {busybox_image}\nARG GREETING\nRUN echo "$GREETING" > /greeting\n'
    )
    ref = f"aifo-{session_name}-img:1"
    build = Build(context=str(tmp_path), dockerfile="Dockerfile.dev", args=(("GREETING", "hi"),))
    try:
        engine.build_image(ref, build, labels={"io.aifo.session": session_name})
        snap = engine.observe(session_name, Want(images=(ref,)))
        assert snap.images[ref].labels["io.aifo.session"] == session_name
    finally:
        subprocess.run(["docker", "image", "rm", "-f", ref], capture_output=True)
    with pytest.raises(NotFound):
        engine.remove_image(ref)


def test_remove_image(engine: DockerEngine, session_name: str, busybox_image: str) -> None:
    ref = f"aifo-{session_name}-tag:1"
    subprocess.run(["docker", "tag", busybox_image, ref], check=True)
    engine.remove_image(ref)
    assert engine.observe(session_name, Want(images=(ref,))).images == {}


def test_logs_prefixed(
    engine: DockerEngine,
    session_name: str,
    labels: dict[str, str],
    busybox_image: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    refs = []
    for name in ("l1", "longer2"):
        c = Container(
            name=name, role="service", docker_name=f"aifo-{session_name}-{name}",
            image=busybox_image, command=("sh", "-c", f"echo hello-{name}; echo bye-{name}"),
        )  # fmt: skip
        cid = _create(engine, c, labels)
        refs.append(c.docker_name)
        engine.start_container(cid)
    until(lambda: not any(c.running for c in engine.inspect_containers(refs)))
    capfd.readouterr()
    assert engine.logs(refs, write=write_bytes, tail=1) == 0
    out = capfd.readouterr().out.splitlines()
    assert sorted(out) == sorted(
        [f"{refs[0].ljust(len(refs[1]))} | bye-l1", f"{refs[1]} | bye-longer2"]
    )
    assert engine.logs([refs[0]], write=write_bytes) == 0
    assert capfd.readouterr().out == "hello-l1\nbye-l1\n"
    assert engine.logs([f"aifo-{session_name}-absent", refs[0]], write=write_bytes) != 0


def test_both_transports_create_the_same_container(
    session_name: str, labels: dict[str, str], busybox_image: str, tmp_path: Path
) -> None:
    """`body.create_container` asks the daemon for what `args.create_args` does: the two
    containers inspect the same, field for field (ids, names and timestamps aside)."""
    from aifo.model import Healthcheck, Mount, Port

    net = f"aifo-{session_name}-same"
    cli, api = DockerEngine(), SocketEngine(DEFAULT_SOCKET)
    cli.create_network(net, driver="bridge", internal=True, subnet=None, labels=labels)
    spec = dict(
        env=(EnvVar("A", "1"),), aliases=("same",), user="1000:1000", working_dir="/w",
        hostname="h", memory_bytes=64 * 1024 * 1024, cpus=0.5, pids_limit=99,
        cap_drop=("ALL",), cap_add=("CHOWN",), read_only=True, entrypoint=("sh", "-c"),
        mounts=(Mount("bind", "/b", source=str(tmp_path), read_only=True),
                Mount("tmpfs", "/tmp", tmpfs_size="8m")),
        healthcheck=Healthcheck(("CMD", "true"), interval_s=1.5), ports=(Port(80),),
        labels=(("team", "x"),),
    )  # fmt: skip
    made = {}
    for tag, engine in (("cli", cli), ("api", api)):
        c = _ctr(session_name, tag, busybox_image, **spec)
        made[tag] = _inspect("container", _create(engine, c, labels, [net]))

    def empty_as_none(part: dict[str, Any]) -> dict[str, Any]:  # the CLI sends [] for unset
        return {k: (None if v in ([], {}) else v) for k, v in part.items()}

    def comparable(d: dict[str, Any]) -> dict[str, Any]:
        config, host = empty_as_none(d["Config"]), empty_as_none(d["HostConfig"])
        config.pop("Hostname", None)
        aliases = d["NetworkSettings"]["Networks"][net]["Aliases"]
        return {
            "config": config,
            "host": host,
            "aliases": sorted(a for a in aliases if a == "same"),
            "networks": sorted(d["NetworkSettings"]["Networks"]),
        }

    one, other = comparable(made["cli"]), comparable(made["api"])
    differ = {
        f"{part}.{key}": (one[part].get(key), other[part].get(key))
        for part in ("config", "host")
        for key in {*one[part], *other[part]}
        if one[part].get(key) != other[part].get(key)
    }
    assert differ == {}
    assert one == other


def test_hooks_and_signals_over_the_socket_need_no_docker_process(
    session_name: str, labels: dict[str, str], busybox_image: str
) -> None:
    engine = SocketEngine(DEFAULT_SOCKET)
    c = _ctr(session_name, "nocli", busybox_image)
    cid = _create(engine, c, labels)
    engine.start_container(cid)
    engine.runner.docker = "/nonexistent/docker"  # any CLI process would now fail
    marked = engine.exec_start(cid, ["sleep", "600"], env={"AIFO_EXEC_ID": "nocli1"}, pipes=True)
    try:
        code, out = engine.exec_capture(cid, ["sh", "-c", 'echo "$K"'], env={"K": "v"})
        assert (code, out) == (0, "v\n")
        until(lambda: engine.signal_marked(cid, "AIFO_EXEC_ID=nocli1", "KILL") == 1, 20)
        assert marked.wait(timeout=30) is not None
        assert engine.runner.calls == 0
    finally:
        marked.kill()
        engine.remove_containers([cid])
