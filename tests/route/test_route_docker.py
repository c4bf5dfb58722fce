"""Toolchain routing end to end on the real engine: busybox agents, a busybox toolchain."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.poll import until
from tests.route.conftest import SECRET, Routed

pytestmark = pytest.mark.docker


def _hostname(r: Routed, name: str) -> str:
    return r.docker("exec", r.container(name), "hostname").stdout.strip()


@pytest.mark.slow
def test_runs_in_the_sidecar_in_the_mapped_folder(routed: Routed) -> None:
    done = routed.exec("a", "sh", "-c", "where && cd sub && where")
    assert done.returncode == 0, done.stderr
    tc = _hostname(routed, "tc")
    assert done.stdout.decode().splitlines() == [f"{tc} /workspace", f"{tc} /workspace/sub"]
    # The first toolchain in the agent's list wins a tool both provide.
    assert tc != _hostname(routed, "other")
    # Answered requests leave nothing behind in the route folder.
    state = Path(routed.env["AIFO_STATE_DIR"])
    assert os.listdir(state / "sessions" / routed.session / "route" / "a" / "req") == []


def test_stdout_stderr_apart_and_the_exit_code(routed: Routed) -> None:
    done = routed.exec("a", "tboth", "101")
    assert (done.returncode, done.stdout, done.stderr) == (101, b"out\n", b"err\n")


@pytest.mark.slow
def test_binary_stdin_and_odd_argv_round_trip(routed: Routed) -> None:
    blob = os.urandom(3 << 20) + bytes(range(256))
    done = routed.exec("a", "tcat", input=blob)
    assert done.returncode == 0 and done.stdout == blob
    args = ["a b", "", "line\nbreak", "ünï", "$HOME", "'\"", "-n"]
    done = routed.exec("a", "targs", *args)
    assert done.stdout.split(b"\0")[:-1] == [a.encode() for a in args]


def test_working_folder_outside_the_workspace_is_refused(routed: Routed) -> None:
    done = routed.aifo("exec", str(routed.spec), "a", "-w", "/tmp", "--", "where")
    assert done.returncode == 126
    assert b"outside the workspace /workspace" in done.stderr
    assert done.stdout == b""


def test_only_allowed_variables_pass(routed: Routed) -> None:
    done = routed.exec("a", "sh", "-c", "FOO=yes BAR=no tenv")
    lines = done.stdout.decode().splitlines()
    assert "FOO=yes" in lines
    assert not [x for x in lines if x.startswith(("BAR=", "TOKEN=", "AIFO_EXEC_ID="))]
    assert SECRET not in done.stdout.decode()


def test_a_tool_the_sidecar_lacks_names_the_toolchain(routed: Routed) -> None:
    done = routed.exec("a", "nosuch")
    assert done.returncode == 127
    assert b"aifo: nosuch: not found in toolchain tc" in done.stderr


def test_an_agent_without_the_toolchain_gets_no_route(routed: Routed) -> None:
    done = routed.exec("b", "sh", "-c", "where")
    assert done.returncode == 127  # the shell's "not found": no shim, no route
    assert routed.docker("exec", routed.container("b"), "test", "-e", "/run/aifo").returncode
    # Neither the sidecar nor another agent sees the route folder.
    assert routed.docker("exec", routed.container("tc"), "test", "-e", "/run/aifo").returncode


def test_without_a_router_the_shim_fails_at_once(routed: Routed) -> None:
    done = routed.docker("exec", routed.container("a"), "/run/aifo/bin/where")
    assert done.returncode == 126
    assert "no router" in done.stderr


@pytest.mark.slow
def test_a_router_that_died_is_noticed_by_the_watchdog(routed: Routed) -> None:
    # A control FIFO nobody reads (its router was SIGKILLed): the shim gives up after 10 s.
    assert routed.exec("a", "where").returncode == 0  # the shims are written
    ctl = Path(routed.env["AIFO_STATE_DIR"]) / "sessions" / routed.session / "route" / "a" / "ctl"
    os.mkfifo(ctl, 0o600)
    try:
        done = routed.docker("exec", routed.container("a"), "/run/aifo/bin/where")
        assert done.returncode == 126
        assert "no router took the request within 10 s" in done.stderr
    finally:
        ctl.unlink()


def test_concurrent_commands_and_the_concurrency_limit(routed: Routed) -> None:
    ws = routed.workspace
    script = "for i in 1 2 3 4; do tblock $i & done; wait"
    proc = subprocess.Popen(
        [sys.executable, "-m", "aifo", "exec", str(routed.spec), "a", "--", "sh", "-c", script],
        env=routed.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        req = Path(routed.env["AIFO_STATE_DIR"]) / "sessions" / routed.session / "route"

        def running() -> int:
            return len(os.listdir(ws / "run"))

        def queued() -> list[Path]:
            return list(req.glob("a/req/*/queued"))

        until(lambda: running() == 3, 60, what="three routed commands running at once")
        # The sync point: the router has the fourth in hand and made it wait for a slot.
        until(lambda: len(queued()) == 1, 30, what="the router making the fourth wait")
        assert running() == 3
        (ws / "release").touch()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        counts = [int(n) for n in (ws / "counts").read_text().split()]
        assert len(counts) == 4 and max(counts) == 3
    finally:
        (ws / "release").touch()
        if proc.poll() is None:
            proc.kill()
        for p in (ws / "counts", ws / "release"):
            p.unlink(missing_ok=True)


@pytest.mark.slow
def test_a_stalled_reader_blocks_no_other_command(routed: Routed) -> None:
    # tzero's reader never reads; `where` must still run, and the exec ends cleanly (the
    # background job's stdio goes elsewhere: docker exec waits for every holder of its own).
    script = "(tzero | tsleep 600) >/dev/null 2>&1 & where; echo after"
    done = routed.exec("a", "sh", "-c", script, timeout=120)
    assert done.returncode == 0, done.stderr
    tc = _hostname(routed, "tc")
    assert done.stdout.decode().splitlines() == [f"{tc} /workspace", "after"]
    until(lambda: "cat /dev/zero" not in routed.processes("tc"), 30)
    until(lambda: "sleep 600" not in routed.processes("tc"), 30)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_aifo_exec_leaves_nothing_running(routed: Routed, sig: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "aifo", "exec", str(routed.spec), "a", "--", "tsleep", "777"],
        env=routed.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        until(lambda: "sleep 777" in routed.processes("tc"), 60, what="sleep 777 to start")
        proc.send_signal(sig)
        proc.communicate(timeout=60)
        assert proc.returncode != 0
        until(lambda: "sleep 777" not in routed.processes("tc"), 30)
        until(lambda: "tsleep" not in routed.processes("a"), 30)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_audit_records_every_routed_command_without_secrets(routed: Routed) -> None:
    done = routed.exec("a", "sh", "-c", 'cd sub && tboth 5 "$TOKEN"')
    assert done.returncode == 5
    done = routed.aifo("audit", str(routed.spec), "-o", "json")
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    last = records[-1]
    assert last["kind"] == "route" and last["agent"] == "a" and last["toolchain"] == "tc"
    assert last["argv"] == ["tboth", "5", "***"] and last["cwd"] == "/workspace/sub"
    assert last["exit_code"] == 5 and last["duration_s"] >= 0 and last["outcome"] == "exited"
    assert SECRET not in done.stdout.decode()
    text = routed.aifo("audit", str(routed.spec)).stdout.decode()
    assert "a -> tc  exit=5" in text


def _at_terminal(r: Routed, script: str, keys: bytes, want: bytes) -> bytes:
    """Run `aifo exec a -- sh -c SCRIPT` on a 40x100 pseudo-terminal; type `keys` once the
    output shows the prompt `name? `; return the output once it holds `want` (or at the
    deadline)."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    argv = [sys.executable, "-m", "aifo", "exec", str(r.spec), "a", "--", "sh", "-c", script]
    proc = subprocess.Popen(argv, env=r.env, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    out, typed = b"", False
    deadline = time.monotonic() + 60
    try:
        while want not in out and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    out += os.read(master, 4096)
                except OSError:
                    break
            if not typed and b"name? " in out:
                os.write(master, keys)
                typed = True
        return out
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)


def test_a_caller_at_a_terminal_gets_one_in_the_sidecar(routed: Routed) -> None:
    # `sleep 1`: docker exec -t sizes the agent's own terminal just after the start.
    out = _at_terminal(routed, "sleep 1; ttyq; tread", b"hello\r", b"got:hello")
    assert b"TTY 40 100" in out, out  # a terminal there, the caller's size
    assert b"got:hello" in out, out  # keys reach the tool through the route
    assert out.count(b"hello") == 2, out  # typed once, echoed once (by the sidecar's terminal)
    assert b"NOTTY" in routed.exec("a", "ttyq").stdout  # pipes, no terminal


def test_two_execs_serve_one_agent_and_the_last_one_out_closes(routed: Routed) -> None:
    script = "where; while [ ! -e /workspace/go2 ]; do sleep 0.1; done; where; echo done1"
    first = subprocess.Popen(
        [sys.executable, "-m", "aifo", "exec", str(routed.spec), "a", "--", "sh", "-c", script],
        env=routed.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert first.stdout is not None
        assert first.stdout.readline().decode().endswith(" /workspace\n")
        # A second exec comes and goes; the first one's later commands are still served.
        assert routed.exec("a", "where").returncode == 0
        (routed.workspace / "go2").touch()
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, err
        assert out.decode().splitlines()[-1] == "done1"
        # Now nobody serves: a shim fails at once instead of waiting.
        done = routed.docker("exec", routed.container("a"), "/run/aifo/bin/where")
        assert done.returncode == 126 and "no router" in done.stderr
    finally:
        (routed.workspace / "go2").unlink(missing_ok=True)
        if first.poll() is None:
            first.kill()


def test_the_maximum_runtime_stops_a_routed_command(routed: Routed) -> None:
    done = routed.exec("t", "tsleep", "300")
    assert done.returncode == 130  # sleep ended by the INT of the escalation
    assert "sleep 300" not in routed.processes("tc")
    records = json.loads(routed.aifo("audit", str(routed.spec), "-o", "json").stdout)
    last = [r for r in records if r.get("agent") == "t"][-1]
    assert last["outcome"] == "timeout" and last["signals"][0] == "INT"


def test_a_sidecar_that_stops_mid_session_fails_closed(routed: Routed) -> None:
    script = "where; while [ ! -e /workspace/go ]; do sleep 0.1; done; where; echo rc=$?"
    proc = subprocess.Popen(
        [sys.executable, "-m", "aifo", "exec", str(routed.spec), "a", "--", "sh", "-c", script],
        env=routed.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().decode().endswith(" /workspace\n")
        assert routed.docker("stop", "-t", "1", routed.container("tc")).returncode == 0
        (routed.workspace / "go").touch()
        out, err = proc.communicate(timeout=120)
        assert out == b"rc=126\n"
        assert b"aifo: where: toolchain tc cannot run it" in err
        assert f"run `aifo apply {routed.spec}`".encode() in err
    finally:
        (routed.workspace / "go").unlink(missing_ok=True)
        if proc.poll() is None:
            proc.kill()
        routed.docker("start", routed.container("tc"))


def test_a_stopped_sidecar_fails_closed_with_the_fix(routed: Routed) -> None:
    assert routed.docker("stop", "-t", "1", routed.container("tc")).returncode == 0
    script = "where; echo next; while [ ! -e /workspace/go3 ]; do sleep 0.1; done; where"
    proc = subprocess.Popen(
        [sys.executable, "-m", "aifo", "exec", str(routed.spec), "a", "--", "sh", "-c", script],
        env=routed.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        # No fallback (not to `other`, which also has `where`, nor to the agent's image).
        assert proc.stdout.readline() == b"next\n"
        # Started again (what the hint says to do): the same exec's next call is served.
        assert routed.docker("start", routed.container("tc")).returncode == 0
        (routed.workspace / "go3").touch()
        out, err = proc.communicate(timeout=120)
        assert out.decode().endswith(" /workspace\n") and proc.returncode == 0
        text = err.decode()
        assert "warning: toolchain tc is down" in text  # said once when the exec starts
        assert "aifo: where: toolchain tc is down" in text
        assert f"run `aifo apply {routed.spec}`" in text
    finally:
        (routed.workspace / "go3").unlink(missing_ok=True)
        if proc.poll() is None:
            proc.kill()
        routed.docker("start", routed.container("tc"))


def test_through_the_docker_cli_too(routed: Routed, tmp_path: Path) -> None:
    # A named docker context makes aifo use the CLI for everything (engine/choose.py): the
    # routed commands then run through `docker exec` processes instead of the API socket.
    config = tmp_path / "docker-config"
    env = {**routed.env, "DOCKER_CONFIG": str(config)}
    made = subprocess.run(
        ["docker", "context", "create", "aifo-cli", "--docker", "host=unix:///var/run/docker.sock"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    cli = Routed(
        routed.session, routed.spec, routed.workspace, {**env, "DOCKER_CONTEXT": "aifo-cli"}
    )
    done = cli.exec("a", "tboth", "9")
    assert (done.returncode, done.stdout, done.stderr) == (9, b"out\n", b"err\n")
    blob = os.urandom(1 << 20)
    assert cli.exec("a", "tcat", input=blob).stdout == blob
    done = cli.exec("a", "nosuch")
    assert done.returncode == 127 and b"not found in toolchain tc" in done.stderr


def test_a_name_that_does_not_resolve_without_egress_gets_a_hint(routed: Routed) -> None:
    """The toolchain has no egress (issue 23): aifo says so, once, after the tool's output."""
    done = routed.exec("a", "tfetch", "aifo-unresolvable.invalid")
    assert done.returncode == 1
    lines = done.stderr.decode().splitlines()
    assert "bad address" in lines[0]
    assert lines[1:] == [
        "aifo: tfetch: a host name did not resolve: toolchain tc has no egress; to let it reach "
        "its package index, uncomment the `egress:` block under toolchains.tc (aifo init writes "
        "it; docs/egress.md)"
    ]
