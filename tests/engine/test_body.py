"""Engine API request bodies (pure): the same configuration `docker create` sends."""

from __future__ import annotations

import pytest

from aifo.engine import body as B
from aifo.model import Container, EnvVar, Healthcheck, Mount, Port


def _c(**kw: object) -> Container:
    return Container(
        name="c",
        role="service",
        docker_name="aifo-s-c",
        image="img:1",
        **kw,  # type: ignore[arg-type]
    )


def test_sizes_use_the_cli_binary_units() -> None:
    assert B.size_bytes("64m") == 64 * 1024 * 1024
    assert B.size_bytes("2G") == 2 * 1024**3
    assert B.size_bytes("512") == 512 and B.size_bytes("1k") == 1024
    with pytest.raises(ValueError, match="not a size"):
        B.size_bytes("1t")


def test_secrets_never_enter_the_body() -> None:
    c = _c(env=(EnvVar("A", "1"), EnvVar("TOKEN", None, secret=True)))
    data = B.create_container(c, labels={}, network=None, volumes={})
    assert data["Env"] == ["A=1"]
    assert "TOKEN" not in repr(data)


def test_no_network_is_mode_none_without_endpoints() -> None:
    data = B.create_container(_c(aliases=("c",)), labels={}, network=None, volumes={})
    assert data["HostConfig"]["NetworkMode"] == "none"
    assert "NetworkingConfig" not in data


def test_first_network_carries_the_aliases() -> None:
    data = B.create_container(_c(aliases=("c", "db")), labels={}, network="n1", volumes={})
    assert data["HostConfig"]["NetworkMode"] == "n1"
    assert data["NetworkingConfig"] == {"EndpointsConfig": {"n1": {"Aliases": ["c", "db"]}}}
    assert B.connect("cid", ("c",)) == {"Container": "cid", "EndpointConfig": {"Aliases": ["c"]}}


def test_security_and_limits() -> None:
    c = _c(
        cap_drop=("ALL",), cap_add=("CHOWN",), security_opt=("apparmor=docker-default",),
        read_only=True, pids_limit=64, memory_bytes=1000, cpus=0.5, user="1:2",
    )  # fmt: skip
    host = B.create_container(c, labels={}, network=None, volumes={})["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and host["CapAdd"] == ["CAP_CHOWN"]  # as the CLI sends
    assert host["SecurityOpt"] == ["no-new-privileges", "apparmor=docker-default"]
    assert host["ReadonlyRootfs"] and host["Init"] and not host["Privileged"]
    assert (host["PidsLimit"], host["Memory"], host["NanoCpus"]) == (64, 1000, 500_000_000)


def test_labels_user_first_aifo_wins() -> None:
    c = _c(labels=(("io.aifo.session", "forged"), ("team", "a")))
    data = B.create_container(c, labels={"io.aifo.session": "s"}, network=None, volumes={})
    assert data["Labels"] == {"io.aifo.session": "s", "team": "a"}


def test_mounts_map_volume_names() -> None:
    c = _c(
        mounts=(
            Mount("bind", "/w", source="/host", read_only=True),
            Mount("volume", "/data", source="data"),
            Mount("tmpfs", "/tmp", tmpfs_size="8m"),
        )
    )
    host = B.create_container(c, labels={}, network=None, volumes={"data": "aifo-s-data"})[
        "HostConfig"
    ]
    assert host["Mounts"] == [
        {"Type": "bind", "Target": "/w", "Source": "/host", "ReadOnly": True},
        {"Type": "volume", "Target": "/data", "Source": "aifo-s-data"},
    ]
    # tmpfs are executable, as `--tmpfs` makes them (API `Mounts` tmpfs are always noexec)
    assert host["Tmpfs"] == {"/tmp": "rw,exec,nosuid,nodev,mode=1777,size=8m"}


def test_healthcheck_as_the_cli_sends_it() -> None:
    check = Healthcheck(("CMD", "pg_isready", "-U", "a b"), interval_s=1.5, start_period_s=2)
    assert B.healthcheck(check) == {
        "Test": ["CMD-SHELL", "pg_isready -U 'a b'"],
        "Interval": 1_500_000_000,
        "Timeout": 3_000_000_000,
        "Retries": 3,
        "StartPeriod": 2_000_000_000,
    }
    assert B.healthcheck(Healthcheck(("NONE",))) == {"Test": ["NONE"]}


def test_entrypoint_and_command() -> None:
    data = B.create_container(
        _c(entrypoint=("sh", "-c"), command=("echo hi",)), labels={}, network=None, volumes={}
    )
    assert (data["Entrypoint"], data["Cmd"]) == (["sh"], ["-c", "echo hi"])
    cleared = B.create_container(_c(entrypoint=()), labels={}, network=None, volumes={})
    assert cleared["Entrypoint"] == [""]


def test_ports_bind_loopback_by_default() -> None:
    c = _c(ports=(Port(80), Port(53, 5353, "0.0.0.0", "udp")))
    data = B.create_container(c, labels={}, network=None, volumes={})
    assert data["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert data["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
        "53/udp": [{"HostIp": "0.0.0.0", "HostPort": "5353"}],
    }


def test_network_body() -> None:
    data = B.create_network("n", driver="bridge", internal=True, subnet="10.9.0.0/24", labels={})
    assert data["Internal"] and data["CheckDuplicate"]
    assert data["IPAM"]["Config"] == [{"Subnet": "10.9.0.0/24"}]
    assert "IPAM" not in B.create_network(
        "n", driver="bridge", internal=False, subnet=None, labels={}
    )
