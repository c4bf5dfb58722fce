"""`aifo exec`, `logs` and `shell` as processes against the real engine.

One session is applied for the module and destroyed at the end. Exit codes propagate, options
reach the process, secrets arrive as exec-time environment and never in the container's config,
logs show what the containers printed, and a missing or stopped container is a clear error that
names the command to run.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.poll import until
from tests.security.helpers import IDLE, IMAGE, aifo, docker, inspect

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]

SPEC = f"""\
version: 1
session: {{session}}
services:
  talker:
    image: {IMAGE}
    pull: never
    command: ["sh", "-c", "echo hello-from-talker; exec sleep 2147483647"]
    env:
      GREETING: plain-value
      API_TOKEN: {{{{from_host: AIFO_TEST_API_TOKEN, secret: true}}}}
  spare:  # stopped and removed by the tests below: nobody else uses it
    image: {IMAGE}
    pull: never
    command: ["sh", "-c", "echo spare-was-here; exec sleep 2147483647"]
  idle:
    image: {IMAGE}
    pull: never
    command: {IDLE}
"""


@dataclass(frozen=True)
class Applied:
    session: str
    spec: Path
    env: dict[str, str]
    token: str

    def docker_name(self, name: str) -> str:
        return f"aifo-{self.session}-{name}"


@pytest.fixture(scope="module")
def applied(
    module_session_name: str, tmp_path_factory: pytest.TempPathFactory, busybox_image: str
) -> Iterator[Applied]:
    root = tmp_path_factory.mktemp("attach")
    spec = root / "aifo.yaml"
    spec.write_text(SPEC.format(session=module_session_name))
    token = "tok-" + secrets.token_hex(8)
    env = {"AIFO_STATE_DIR": str(root.parent / f"{root.name}-state"), "AIFO_TEST_API_TOKEN": token}
    done = aifo("apply", spec, env=env)
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        yield Applied(module_session_name, spec, env, token)
    finally:
        gone = aifo("destroy", spec, "--yes", env=env)
        assert gone.returncode == 0, gone.stderr


@pytest.mark.slow
def test_exec_propagates_the_exit_code(applied: Applied) -> None:
    done = aifo("exec", applied.spec, "talker", "--", "sh", "-c", "exit 7", env=applied.env)
    assert done.returncode == 7, done.stderr
    assert aifo("exec", applied.spec, "idle", "true", env=applied.env).returncode == 0


def test_exec_options_reach_the_process(applied: Applied) -> None:
    done = aifo(
        "exec", applied.spec, "talker", "--env", "FOO=bar", "-e", "GREETING=overridden",
        "--workdir", "/tmp", "--user", "1234:1234", "--",
        "sh", "-c", 'echo "$FOO $GREETING $(pwd) $(id -u):$(id -g)"',
        env=applied.env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "bar overridden /tmp 1234:1234"
    plain = aifo(
        "exec", applied.spec, "talker", "sh", "-c", 'echo "$GREETING $(pwd)"', env=applied.env
    )
    assert plain.stdout.strip() == "plain-value /"  # the container's own env and folder


def test_secrets_arrive_at_exec_time_and_never_in_the_config(applied: Applied) -> None:
    done = aifo(
        "exec", applied.spec, "talker", "--", "sh", "-c", 'echo "token=$API_TOKEN"',
        env=applied.env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"token={applied.token}"
    info = inspect(applied.docker_name("talker"))
    assert "GREETING=plain-value" in info["Config"]["Env"]
    assert not any(e.startswith("API_TOKEN=") for e in info["Config"]["Env"])
    assert applied.token not in json.dumps(info)  # not in env, labels, command, anywhere
    # Nor in the output of the CLI itself (e.g. a stale-spec warning).
    assert applied.token not in done.stderr


def test_a_rotated_secret_is_read_at_exec_time(applied: Applied) -> None:
    env = {**applied.env, "AIFO_TEST_API_TOKEN": "rotated"}
    done = aifo("exec", applied.spec, "talker", "sh", "-c", 'echo "$API_TOKEN"', env=env)
    assert done.stdout.strip() == "rotated"
    assert "was applied from a different spec" in done.stderr  # its digest is in the hash


def test_logs_of_one_container(applied: Applied) -> None:
    seen = [""]

    def check() -> bool:
        done = aifo("logs", applied.spec, "talker", env=applied.env)
        assert done.returncode == 0, done.stderr
        seen[0] = done.stdout
        return done.stdout == "hello-from-talker\n"

    until(check, 10, what=lambda: f"the talker's line; logs: {seen[0]!r}")


def test_logs_of_the_whole_session_are_prefixed_by_name(applied: Applied) -> None:
    talker, spare = applied.docker_name("talker"), applied.docker_name("spare")

    seen = [""]

    def check() -> bool:
        done = aifo("logs", applied.spec, env=applied.env)
        assert done.returncode == 0, done.stderr
        seen[0] = done.stdout
        wanted = {f"{talker} | hello-from-talker", f"{spare:<{len(talker)}} | spare-was-here"}
        return wanted <= set(done.stdout.splitlines())

    until(check, 10, what=lambda: f"both prefixed lines; logs: {seen[0]!r}")


def _assert_not_applied(done: subprocess.CompletedProcess[str], spec: Path, why: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert re.search(why, done.stderr), done.stderr
    assert f"hint: run `aifo apply {spec}` first" in done.stderr, done.stderr


def test_a_stopped_then_removed_container_names_the_next_command(applied: Applied) -> None:
    spare = applied.docker_name("spare")
    docker("stop", "-t", "0", spare)
    for argv in (("exec", "spare", "true"), ("shell", "spare")):
        done = aifo(argv[0], applied.spec, *argv[1:], env=applied.env)
        _assert_not_applied(done, applied.spec, r"service/spare of session '.*' is exited")
    stopped = aifo("logs", applied.spec, "spare", env=applied.env)  # still readable
    assert stopped.returncode == 0 and "spare-was-here" in stopped.stdout
    docker("rm", spare)
    for argv in (("exec", "spare", "true"), ("shell", "spare"), ("logs", "spare")):
        done = aifo(argv[0], applied.spec, *argv[1:], env=applied.env)
        _assert_not_applied(done, applied.spec, rf"does not exist \(no container {spare}\)")


@pytest.mark.slow
def test_a_session_never_applied_names_the_next_command(
    session_name: str, tmp_path: Path, state_dir: Path, busybox_image: str
) -> None:
    spec = tmp_path / "aifo.yaml"
    spec.write_text(SPEC.format(session=session_name))
    env = {"AIFO_TEST_API_TOKEN": "x"}
    for argv in (("exec", "idle", "true"), ("shell", "idle"), ("logs", "idle")):
        done = aifo(argv[0], spec, *argv[1:], env=env)
        _assert_not_applied(done, spec, "service/idle of session .* does not exist")
    done = aifo("logs", spec, env=env)
    _assert_not_applied(done, spec, f"session '{session_name}' has no containers in Docker")
    unknown = aifo("exec", spec, "nope", "true", env=env)
    assert unknown.returncode == 2
    assert "declares no container named 'nope'" in unknown.stderr
    assert "containers: idle, spare, talker" in unknown.stderr


def test_exec_streams_over_the_socket_without_the_docker_cli(
    applied: Applied, tmp_path: Path
) -> None:
    # No `docker` on PATH: only the Engine API socket is left (the CLI's exec would fail).
    bare = tmp_path / "bin"
    bare.mkdir()
    script = 'echo out; echo err >&2; read -r x; echo "in:$x $API_TOKEN"; exit 3'
    done = subprocess.run(
        [sys.executable, "-m", "aifo", "exec", str(applied.spec), "talker", "--", "sh", "-c",
         script],
        input="typed\n", capture_output=True, text=True, timeout=90,
        env={**os.environ, **applied.env, "PATH": str(bare)},
    )  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (
        3,
        f"out\nin:typed {applied.token}\n",
        "err\n",
    )


def _targets(applied: Applied) -> Path:
    return (
        Path(applied.env["AIFO_STATE_DIR"]) / "cache" / "attach" / f"targets.{applied.session}.json"
    )


def test_a_remembered_container_that_is_gone_is_looked_up_again(applied: Applied) -> None:
    assert aifo("exec", applied.spec, "idle", "true", env=applied.env).returncode == 0
    real = inspect(applied.docker_name("idle"))["Id"]
    known = json.loads(_targets(applied).read_text())
    assert known[applied.docker_name("idle")]["id"] == real
    known[applied.docker_name("idle")]["id"] = "0" * 64  # as if recreated since
    _targets(applied).write_text(json.dumps(known))
    done = aifo("exec", applied.spec, "idle", "--", "echo", "ok", env=applied.env)
    assert (done.returncode, done.stdout, done.stderr) == (0, "ok\n", "")
    assert json.loads(_targets(applied).read_text())[applied.docker_name("idle")]["id"] == real


def test_a_remembered_container_is_not_inspected_again(
    applied: Applied, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    from aifo.commands.fastexec import try_exec
    from aifo.engine.wire import Wire

    for key, value in applied.env.items():
        monkeypatch.setenv(key, value)
    assert aifo("exec", applied.spec, "idle", "true", env=applied.env).returncode == 0
    sent: list[str] = []
    request = Wire.request

    def spy(self: Wire, method: str, path: str, **kw: Any) -> Any:
        sent.append(f"{method} {path.split('?')[0]}")
        return request(self, method, path, **kw)

    monkeypatch.setattr(Wire, "request", spy)
    assert try_exec(["exec", str(applied.spec), "idle", "--", "sh", "-c", "exit 4"]) == 4
    real = inspect(applied.docker_name("idle"))["Id"]
    # The exec create is the container check; then only the exit code is read.
    assert sent == [f"POST /containers/{real}/exec", sent[1]] and sent[1].endswith("/json")
    assert sent[1].startswith("GET /exec/")
    capfd.readouterr()


def test_a_reader_that_goes_away_ends_exec_and_its_process(applied: Applied) -> None:
    # `aifo exec idle -- yes | head -1`: as a local pipeline, the writer gets SIGPIPE.
    proc = subprocess.Popen(
        [sys.executable, "-m", "aifo", "exec", str(applied.spec), "idle", "--", "yes", "marker"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={**os.environ, **applied.env},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"marker\n"
        proc.stdout.close()
        assert proc.wait(timeout=60) == 141
    finally:
        if proc.poll() is None:
            proc.kill()

    def gone() -> bool:
        return "yes marker" not in docker("exec", applied.docker_name("idle"), "ps", "-o", "args")

    until(gone, 30, what="`yes marker` to end in the container")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_a_quick_exec_reaches_its_process(applied: Applied, sig: int) -> None:
    # `idle` needs nothing of the spec: once located, `aifo exec` takes the quick way
    # (aifo.engine.quickexec), which must still deliver our signals into the container.
    assert aifo("exec", applied.spec, "idle", "true", env=applied.env).returncode == 0
    marker = f"{600 + sig}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "aifo", "exec", str(applied.spec), "idle", "--", "sleep", marker],
        env={**os.environ, **applied.env}, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def running() -> bool:
        return f"sleep {marker}" in docker("top", applied.docker_name("idle"))

    try:
        until(running, 30, what="the exec to start")
        proc.send_signal(sig)
        assert proc.wait(timeout=60) != 0
        until(lambda: not running(), 30, what="the exec to end in the container")
    finally:
        if proc.poll() is None:
            proc.kill()


def test_at_a_terminal_exec_goes_over_the_socket_raw_and_follows_resizes(
    applied: Applied, tmp_path: Path
) -> None:
    import fcntl
    import pty
    import select
    import struct
    import termios
    import time

    # No `docker` on PATH: the terminal exec must not need the CLI.
    bare = tmp_path / "bin"
    bare.mkdir()
    env = {**os.environ, **applied.env, "PATH": str(bare)}
    # `sleep 1`: API 1.41 sizes an exec's terminal just after its start (as `docker exec -t`).
    script = (
        'sleep 1; stty size; printf "name? "; read -r x; echo "got:$x"; '
        'while [ "$(stty size)" != "30 90" ]; do sleep 0.1; done; echo resized; exit 6'
    )
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    before = termios.tcgetattr(slave)
    argv = [sys.executable, "-m", "aifo", "exec", str(applied.spec), "idle", "--", "sh", "-c"]
    proc = subprocess.Popen([*argv, script], env=env, stdin=slave, stdout=slave, stderr=slave)
    out, typed = b"", False
    deadline = time.monotonic() + 60
    try:
        while b"resized" not in out and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                out += os.read(master, 4096)
            if not typed and b"name? " in out:
                os.write(master, b"hello\r")
                fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 90, 0, 0))
                proc.send_signal(signal.SIGWINCH)  # as the terminal does for its foreground
                typed = True
        assert proc.wait(timeout=60) == 6, out
        assert b"40 100" in out, out  # started at our terminal's size
        assert b"got:hello" in out and b"resized" in out, out
        assert out.count(b"hello") == 2, out  # echoed once, by the container's terminal: raw here
        assert termios.tcgetattr(slave) == before  # our terminal's modes are back
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)
