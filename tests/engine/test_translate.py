"""Error translation: real stderr strings captured from this engine (dockerd 20.10, CLI 28)."""

from __future__ import annotations

import pytest

from aifo.engine.translate import lines_of, translate
from aifo.errors import (
    Conflict,
    EngineError,
    EngineUnavailable,
    ImageMissing,
    NotFound,
    PortInUse,
)

CASES: list[tuple[str, str, type[EngineError]]] = [
    ("remove container", "Error response from daemon: No such container: x1\n", NotFound),
    (
        "start container",
        "Error response from daemon: No such container: x1\n"
        "Error: failed to start containers: x1\n",
        NotFound,
    ),
    (
        "remove network",
        "Error response from daemon: network n1 not found\nexit status 1\n",
        NotFound,
    ),
    ("remove volume", "Error response from daemon: get v1: no such volume\n", NotFound),
    (
        "rename container",
        "Error response from daemon: No such container: x1\n"
        "Error: failed to rename container named x1\n",
        NotFound,
    ),
    (
        "create container",
        'Error response from daemon: Conflict. The container name "/c1" is already in use by '
        'container "c7aac97d9aa3". You have to remove (or rename) that container to be able to '
        "reuse that name.\n",
        Conflict,
    ),
    (
        "create network",
        "Error response from daemon: network with name n1 already exists\n",
        Conflict,
    ),
    (
        "remove volume",
        "Error response from daemon: remove v1: volume is in use - [c7aac97d9aa3]\n",
        Conflict,
    ),
    (
        "rename container",
        "Error response from daemon: Error when allocating new name: Conflict. The container name "
        '"/c2" is already in use by container "8c5fe10a1fd6".\n'
        "Error: failed to rename container named c1\n",
        Conflict,
    ),
    (
        "remove network",
        "Error response from daemon: error while removing network: network n1 id 028dc2b9 has "
        "active endpoints\n",
        EngineError,
    ),
    (
        "pull image",
        'Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup '
        "registry-1.docker.io on 10.255.255.53:53: no such host\n",
        ImageMissing,
    ),
    (
        "create container",
        "Unable to find image 'nosuch/img:1' locally\n"
        'Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup '
        "registry-1.docker.io on 10.255.255.53:53: no such host\n",
        ImageMissing,
    ),
    ("create container", "Error response from daemon: No such image: nosuch/img:1\n", ImageMissing),
    # `podman create --pull never` of a missing image (podman 4.3)
    ("lock session with", "Error: aifo-session-lock:1: image not known\n", ImageMissing),
    (
        "pull image",
        "Error response from daemon: pull access denied for nosuch/img, repository does not exist "
        "or may require 'docker login': denied: requested access to the resource is denied\n",
        ImageMissing,
    ),
    (
        "build image",
        "Step 1/2 : FROM nosuch/base:1\n"
        'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: '
        "no such host\n",
        ImageMissing,
    ),
    (
        "observe session",
        "Cannot connect to the Docker daemon at unix:///tmp/nosock. "
        "Is the docker daemon running?\n",
        EngineUnavailable,
    ),
    (
        "start container",
        "Error response from daemon: OCI runtime create failed: container_linux.go:380: starting "
        'container process caused: exec: "nope": executable file not found in $PATH: unknown\n'
        "Error: failed to start containers: c1\n",
        EngineError,
    ),
    (
        "start container",
        "Error response from daemon: network aifo-s-net not found\n"
        "Error: failed to start containers: c1\n",
        NotFound,
    ),
]


@pytest.mark.parametrize(("op", "stderr", "cls"), CASES)
def test_translate_table(op: str, stderr: str, cls: type[EngineError]) -> None:
    err = translate(op, "obj", 1, stderr)
    assert type(err) is cls
    first = str(err).splitlines()[0]
    # an engine nobody reaches has one message, whichever call met it (engine.hints)
    lead = "cannot reach the Docker engine at " if cls is EngineUnavailable else f"{op} obj: "
    assert first.startswith(lead)
    assert "Error response from daemon" not in first
    assert "failed to start containers" not in first


def test_missing_image_as_object_is_not_found() -> None:
    err = translate(
        "remove image",
        "x:1",
        1,
        "Error response from daemon: No such image: x:1\n",
        image_is_object=True,
    )
    assert type(err) is NotFound


def test_hints() -> None:
    assert "seed-images" in str(translate("pull image", "x", 1, "pull access denied for x"))
    from aifo.engine.hints import start_engine

    unavailable = translate(
        "ping", "daemon", 1, "Cannot connect to the Docker daemon at unix:///x."
    )
    assert unavailable.hint is not None and unavailable.hint.startswith(start_engine())
    assert "scripts/" not in str(unavailable)


def test_redacts_values_and_is_one_line() -> None:
    err = translate("create container", "c", 1, "bad env TOKEN=hunter22\nmore", redact=["hunter22"])
    assert "hunter22" not in str(err)
    assert "\n" not in err.message


def test_empty_stderr() -> None:
    err = translate("stop container", "c", 137, "")
    assert type(err) is EngineError
    assert "137" in str(err)


def test_removal_in_progress() -> None:
    from aifo.engine.translate import removal_in_progress

    line = "Error response from daemon: removal of container 3f2a9c is already in progress"
    assert [removal_in_progress(x) for x in lines_of(line)] == ["3f2a9c"]
    assert removal_in_progress("No such container: 3f2a9c") is None


ID = "0b5a7138a40006c0fc6d76a596dc98080c2851d02826cacfc897b91a5afaf327"
EP = "7040e5c4ce38ad6a77892f2a5dd792ad5776777f8ceed764bff2b641ce78dbb8"


@pytest.mark.parametrize(
    ("stderr", "where"),
    [
        (  # the docker proxy (captured here, dockerd 20.10)
            f"driver failed programming external connectivity on endpoint aifo-s-web ({EP}): "
            "Error starting userland proxy: listen tcp4 127.0.0.1:18477: bind: address already "
            "in use",
            ("127.0.0.1", 18477, "tcp"),
        ),
        (  # the daemon's own allocator
            f"driver failed programming external connectivity on endpoint x ({EP}): Bind for "
            "0.0.0.0:8080 failed: port is already allocated",
            ("0.0.0.0", 8080, "tcp"),
        ),
        ("cannot listen on the UDP port: listen udp4 :5353: bind: address already in use",
         ("0.0.0.0", 5353, "udp")),
    ],
)  # fmt: skip
def test_a_taken_host_port_is_named_without_the_daemons_ids(
    stderr: str, where: tuple[str, int, str]
) -> None:
    error = translate("start container", ID, 1, f"Error response from daemon: {stderr}\n")
    assert isinstance(error, PortInUse) and isinstance(error, Conflict)
    assert (error.host_ip, error.host_port, error.protocol) == where
    assert ID not in str(error) and EP not in str(error)
    assert f"{where[0]}:{where[1]} ({where[2]}) is already in use" in str(error)
    assert error.hint and "another host port" in error.hint
