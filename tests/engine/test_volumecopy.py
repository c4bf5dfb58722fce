"""A host folder into a volume and back (aifo.engine.volumecopy): the real engine over both
transports, and the unpacking of what an agent wrote (pure)."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from aifo.engine import DockerEngine
from aifo.engine.socket_engine import SocketEngine
from aifo.engine.volumecopy import local_id, unpack
from aifo.engine.wire import DEFAULT_SOCKET
from aifo.errors import EngineError, NotFound


@pytest.fixture(params=["cli", "api"])
def engine(request: pytest.FixtureRequest) -> DockerEngine:
    if request.param == "api":
        return SocketEngine(DEFAULT_SOCKET)
    return DockerEngine()


def _tree(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.py").write_text("print('hi')\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    (root / "py").symlink_to("/usr/bin/python3")  # a link out: kept as a link
    (root / "rel").symlink_to("src/main.py")
    os.mkfifo(root / "fifo")  # not a file: left out
    for path in (root, root / "src", root / "src" / "main.py", root / "run.sh"):
        os.chown(path, 4321, 4321)
    return root


@pytest.mark.docker
def test_fill_then_read_back(
    engine: DockerEngine, session_name: str, busybox_image: str, tmp_path: Path
) -> None:
    labels = {"io.aifo.session": session_name}
    volume = f"aifo-{session_name}-ws"
    engine.create_volume(volume, labels=labels)
    engine.fill_volume(volume, str(_tree(tmp_path / "src")), labels=labels)
    listing = subprocess.run(
        ["docker", "run", "--rm", "--label", f"io.aifo.session={session_name}", "-v",
         f"{volume}:/w", busybox_image, "sh", "-c", "ls -lnd /w /w/src/main.py /w/run.sh; "
         "readlink /w/py; ls /w"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    lines = listing.splitlines()
    assert lines[0].split()[2:4] == ["4321", "4321"], listing  # the volume's root: the owner
    assert lines[1].startswith("-rwxr-xr-x") and lines[1].split()[2] == "4321", listing
    assert lines[3] == "/usr/bin/python3"
    assert "fifo" not in listing
    back = tmp_path / "back"
    engine.read_volume(volume, str(back), labels=labels)
    assert (back / "src" / "main.py").read_text() == "print('hi')\n"
    assert os.readlink(back / "py") == "/usr/bin/python3"
    assert os.readlink(back / "rel") == "src/main.py"
    assert (back / "run.sh").stat().st_mode & 0o111
    assert (back.stat().st_mode & 0o777) == 0o700  # private to the user until read
    # no helper container is left behind
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=io.aifo.session={session_name}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert left.strip() == ""


@pytest.mark.docker
def test_read_into_an_existing_folder_is_refused(
    engine: DockerEngine, session_name: str, tmp_path: Path
) -> None:
    labels = {"io.aifo.session": session_name}
    volume = f"aifo-{session_name}-ws"
    engine.create_volume(volume, labels=labels)
    (tmp_path / "there").mkdir()
    with pytest.raises(EngineError, match="exists already"):
        engine.read_volume(volume, str(tmp_path / "there"), labels=labels)


@pytest.mark.docker
def test_a_missing_volume_is_not_made(
    engine: DockerEngine, session_name: str, tmp_path: Path
) -> None:
    volume = f"aifo-{session_name}-missing"
    with pytest.raises(NotFound):
        engine.read_volume(volume, str(tmp_path / "back"), labels={"io.aifo.session": session_name})
    with pytest.raises(NotFound):
        engine.fill_volume(volume, str(tmp_path), labels={"io.aifo.session": session_name})
    found = subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"name={volume}"],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert found.strip() == "" and not (tmp_path / "back").exists()


@pytest.mark.docker
def test_a_failed_fill_leaves_no_helper(
    engine: DockerEngine, session_name: str, tmp_path: Path
) -> None:
    labels = {"io.aifo.session": session_name}
    volume = f"aifo-{session_name}-ws"
    engine.create_volume(volume, labels=labels)
    with pytest.raises(EngineError, match="not a folder"):
        engine.fill_volume(volume, str(tmp_path / "missing"), labels=labels)
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=io.aifo.session={session_name}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert left.strip() == ""


@pytest.mark.docker
def test_a_helper_whose_removal_failed_goes_with_its_volume(
    session_name: str, tmp_path: Path
) -> None:
    """A helper left by a failed removal (the node refused it) would pin its volume ("volume is
    in use"): the volume's removal removes it first, and nothing else (the Swarm node sweep
    fails that removal: tests/swarm/test_swarm_node_faults.py)."""
    engine = SocketEngine(DEFAULT_SOCKET)
    labels = {"io.aifo.session": session_name}
    volume = f"aifo-{session_name}-ws"
    engine.create_volume(volume, labels=labels)
    helper = engine._api_helper(volume, labels)  # as if its `_drop` had failed
    other = subprocess.run(
        ["docker", "create", "--label", f"io.aifo.session={session_name}", "-v",
         f"{volume}:/x", "aifo-test/busybox:latest", "true"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    with pytest.raises(EngineError, match="in use"):
        engine.remove_volume(volume)  # a container not a helper: never removed for it
    assert engine.wire.request("GET", f"/containers/{helper}/json").status == 404
    subprocess.run(["docker", "rm", "-f", other], capture_output=True, check=True)
    engine.remove_volume(volume)
    with pytest.raises(NotFound):
        engine.remove_volume(volume)


@pytest.mark.docker
def test_this_machine_is_known_by_its_engine_id() -> None:
    local = SocketEngine(DEFAULT_SOCKET)
    assert local_id() == local.engine_id() != ""
    assert local_id() != "NOT:AN:ENGINE:ID"
    assert local_id(local_socket="/nonexistent/docker.sock") == ""


def _archive(tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    path = tmp_path / "in.tar"
    path.write_bytes(buf.getvalue())
    return path


def _dir(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info


def _link(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


@pytest.mark.parametrize(
    "members",
    [
        # a file written through a link the same archive made: outside the destination
        [
            (_dir("v"), None),
            (_link("v/out", "../../outside"), None),
            (tarfile.TarInfo("v/out/escape"), b"x"),
        ],  # fmt: skip
        [(_dir("v"), None), (tarfile.TarInfo("v/../escape"), b"x")],
        [(_dir("v"), None), (tarfile.TarInfo("/abs"), b"x")],
        [(_dir("v"), None), (tarfile.TarInfo("other"), b"x")],  # not under the volume's root
    ],
    ids=["through-a-link", "dot-dot", "absolute", "outside-root"],
)
def test_unpack_refuses_what_escapes(
    tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]
) -> None:
    archive = _archive(tmp_path, members)
    (tmp_path / "outside").mkdir()
    with pytest.raises(EngineError):
        unpack(archive, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    assert list((tmp_path / "outside").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tar", "outside"]  # no staging


def test_unpack_refuses_devices_and_oversize(tmp_path: Path) -> None:
    device = tarfile.TarInfo("v/null")
    device.type = tarfile.CHRTYPE
    with pytest.raises(EngineError):
        unpack(_archive(tmp_path, [(_dir("v"), None), (device, None)]), tmp_path / "d1")
    big = _archive(tmp_path, [(_dir("v"), None), (tarfile.TarInfo("v/big"), b"x" * 100)])
    with pytest.raises(EngineError, match="more than 10"):
        unpack(big, tmp_path / "d2", limit=10)
    assert not (tmp_path / "d1").exists() and not (tmp_path / "d2").exists()
