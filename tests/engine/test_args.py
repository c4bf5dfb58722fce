"""The pure argv builders."""

from __future__ import annotations

import dataclasses

from aifo.engine import args as A
from aifo.model import Build, Container, EnvVar, Healthcheck, Mount, Port

BASE = Container(
    name="x", role="agent", docker_name="aifo-s-x", image="img:1", init=False,
    no_new_privileges=False,
)  # fmt: skip


def _create(c: Container, network: str | None = "net-a", **kw: object) -> list[str]:
    return A.create_args(
        c, name="aifo-s-x", labels={"io.aifo.session": "s"}, network=network,
        volumes={"cache": "aifo-s-cache"},
    )  # fmt: skip


def _pairs(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_minimal() -> None:
    assert _create(BASE) == [
        "create", "--pull", "never", "--name", "aifo-s-x", "--label", "io.aifo.session=s",
        "--network", "net-a", "--", "img:1",
    ]  # fmt: skip


def test_no_network_is_mode_none() -> None:
    argv = _create(dataclasses.replace(BASE, aliases=("x",)), network=None)
    assert _pairs(argv, "--network") == ["none"]
    assert "--network-alias" not in argv


def test_aliases_on_first_network() -> None:
    argv = _create(dataclasses.replace(BASE, aliases=("x", "xx")))
    assert _pairs(argv, "--network-alias") == ["x", "xx"]


def test_secret_env_never_in_argv() -> None:
    c = dataclasses.replace(
        BASE,
        env=(
            EnvVar("A", "1"),
            EnvVar("TOKEN", None, secret=True, from_host="TOKEN", digest="d"),
        ),
    )
    argv = _create(c)
    assert _pairs(argv, "--env") == ["A=1"]
    assert not any("TOKEN" in a for a in argv)


def test_entrypoint_and_command() -> None:
    c = dataclasses.replace(BASE, entrypoint=("/bin/sh", "-c"), command=("echo hi",))
    argv = _create(c)
    assert _pairs(argv, "--entrypoint") == ["/bin/sh"]
    assert argv[-3:] == ["img:1", "-c", "echo hi"]
    cleared = _create(dataclasses.replace(BASE, entrypoint=()))
    assert _pairs(cleared, "--entrypoint") == [""]
    assert _create(dataclasses.replace(BASE, command=("sleep", "1")))[-3:] == [
        "img:1", "sleep", "1",
    ]  # fmt: skip


def test_mounts() -> None:
    c = dataclasses.replace(
        BASE,
        mounts=(
            Mount("bind", "/work", source="/home/u/p,q", read_only=True),
            Mount("volume", "/cache", source="cache"),
            Mount("volume", "/ext", source="external-vol"),
            Mount("tmpfs", "/tmp", tmpfs_size="64m"),
            Mount("tmpfs", "/home/aifo"),
        ),
    )
    assert _pairs(_create(c), "--mount") == [
        'type=bind,"src=/home/u/p,q",dst=/work,readonly',
        "type=volume,src=aifo-s-cache,dst=/cache",
        "type=volume,src=external-vol,dst=/ext",
    ]
    # tmpfs are executable (`--mount type=tmpfs` is always noexec before API 1.46)
    assert _pairs(_create(c), "--tmpfs") == [
        "/tmp:rw,exec,nosuid,nodev,mode=1777,size=64m",
        "/home/aifo:rw,exec,nosuid,nodev,mode=1777",
    ]


def test_user_values_never_become_flags() -> None:
    """Whatever the spec says, positionals come after `--` (defence behind validation)."""
    c = dataclasses.replace(BASE, image="--privileged", command=("--rm",))
    argv = _create(c)
    assert argv[-3:] == ["--", "--privileged", "--rm"]
    assert "--privileged" not in argv[: argv.index("--")]
    assert A.build_args("i", Build(context="--x"), {}, buildx=False)[-2:] == ["--", "--x"]
    assert A.exec_args("--c", ["--x"], user=None, workdir=None, env_keys=[], interactive=False,
                       tty=False) == ["exec", "--", "--c", "--x"]  # fmt: skip


def test_limits_security_and_flags() -> None:
    c = dataclasses.replace(
        BASE,
        user="1000:1000", working_dir="/work", hostname="h", memory_bytes=1 << 30, cpus=1.5,
        pids_limit=256, cap_add=("NET_ADMIN",), cap_drop=("ALL",), no_new_privileges=True,
        security_opt=("apparmor=docker-default",), read_only=True, privileged=True, init=True,
        restart="unless-stopped", tty=True,
    )  # fmt: skip
    argv = _create(c)
    assert _pairs(argv, "--user") == ["1000:1000"]
    assert _pairs(argv, "--workdir") == ["/work"]
    assert _pairs(argv, "--hostname") == ["h"]
    assert _pairs(argv, "--memory") == ["1073741824"]
    assert _pairs(argv, "--cpus") == ["1.5"]
    assert _pairs(argv, "--pids-limit") == ["256"]
    assert _pairs(argv, "--cap-add") == ["NET_ADMIN"]
    assert _pairs(argv, "--cap-drop") == ["ALL"]
    assert _pairs(argv, "--security-opt") == ["no-new-privileges", "apparmor=docker-default"]
    assert _pairs(argv, "--restart") == ["unless-stopped"]
    for flag in ("--read-only", "--privileged", "--init", "-t", "-i"):
        assert flag in argv
    assert "--restart" not in _create(BASE)


def test_labels_merged_and_sorted() -> None:
    c = dataclasses.replace(BASE, labels=(("io.aifo.session", "user"), ("team", "a")))
    assert _pairs(_create(c), "--label") == ["io.aifo.session=s", "team=a"]


def test_healthcheck() -> None:
    shell = Healthcheck(("CMD-SHELL", "pg_isready -U x"), interval_s=2, timeout_s=1.5, retries=4,
                        start_period_s=10)  # fmt: skip
    assert A.healthcheck_args(shell) == [
        "--health-cmd", "pg_isready -U x", "--health-interval", "2000ms",
        "--health-timeout", "1500ms", "--health-retries", "4", "--health-start-period", "10000ms",
    ]  # fmt: skip
    exec_form = A.healthcheck_args(Healthcheck(("CMD", "test", "-f", "/tmp/a b")))
    assert exec_form[:2] == ["--health-cmd", "test -f '/tmp/a b'"]
    assert "--health-start-period" not in exec_form
    assert A.healthcheck_args(Healthcheck(("NONE",))) == ["--no-healthcheck"]


def test_ports() -> None:
    assert A.port_arg(Port(8080, 18080)) == "127.0.0.1:18080:8080/tcp"
    assert A.port_arg(Port(53, None, protocol="udp")) == "127.0.0.1::53/udp"
    assert A.port_arg(Port(80, 8000, host_ip="::1")) == "[::1]:8000:80/tcp"
    assert A.port_arg(Port(80, None, host_ip="")) == "80/tcp"
    c = dataclasses.replace(BASE, ports=(Port(8080, 18080),))
    assert _pairs(_create(c), "-p") == ["127.0.0.1:18080:8080/tcp"]


def test_network_and_volume_create() -> None:
    assert A.network_create_args(
        "n", driver="bridge", internal=True, subnet="10.1.0.0/24", labels={"b": "2", "a": "1"}
    ) == [
        "network", "create", "--driver", "bridge", "--internal", "--subnet", "10.1.0.0/24",
        "--label", "a=1", "--label", "b=2", "--", "n",
    ]  # fmt: skip
    assert A.network_create_args("n", driver="bridge", internal=False, subnet=None, labels={}) == [
        "network", "create", "--driver", "bridge", "--", "n",
    ]  # fmt: skip
    assert A.volume_create_args("v", {"a": "1"}) == [
        "volume", "create", "--label", "a=1", "--", "v",
    ]  # fmt: skip


def test_connect() -> None:
    assert A.connect_args("n", "cid", ["x", "y"]) == [
        "network", "connect", "--alias", "x", "--alias", "y", "--", "n", "cid",
    ]  # fmt: skip


def test_build_args_keep_values_off_argv() -> None:
    build = Build(context="/ctx", dockerfile="docker/Dockerfile", args=(("TOKEN", "s3cret"),),
                  target="dev")  # fmt: skip
    argv = A.build_args("img:1", build, {"io.aifo.session": "s"}, buildx=False)
    assert argv == [
        "build", "--force-rm", "-t", "img:1", "--label", "io.aifo.session=s",
        "-f", "/ctx/docker/Dockerfile", "--build-arg", "TOKEN", "--target", "dev", "--",
        "/ctx",
    ]  # fmt: skip
    assert A.build_args("i", Build(context="/c"), {}, buildx=True)[:4] == [
        "buildx", "build", "--load", "--progress=plain",
    ]  # fmt: skip


def test_exec_args_env_by_key() -> None:
    assert A.exec_args(
        "c", ["sh", "-c", "x"], user="1:1", workdir="/w", env_keys=["K"], interactive=True,
        tty=True,
    ) == ["exec", "-i", "-t", "--user", "1:1", "--workdir", "/w", "--env", "K", "--", "c", "sh",
          "-c", "x"]  # fmt: skip
