"""Routing through the exec transport (issue 25) on the real engine: the same busybox session as
test_route_docker.py, applied with AIFO_ROUTE_TRANSPORT=exec, so the agent's route folder is a
tmpfs inside it that the router reaches only through the engine's exec of the agent (as on
Swarm, where the agent runs on another node)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.poll import until
from tests.route.conftest import SECRET, Routed, make_routed
from tests.route.test_route_hostile_docker import HAND, run_flood

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def routed_exec(
    module_session_name: str, tmp_path_factory: pytest.TempPathFactory, busybox_image: str
) -> Iterator[Routed]:
    yield make_routed(
        module_session_name, tmp_path_factory, busybox_image, {"AIFO_ROUTE_TRANSPORT": "exec"}
    )


def _in_agent(r: Routed, script: str, agent: str = "a") -> subprocess.CompletedProcess[str]:
    return r.docker("exec", r.container(agent), "sh", "-c", script)


def _ours(ps: str) -> list[str]:
    """The router's execs among the agent's processes (the control `dd`, the stdio execs)."""
    return [line for line in ps.splitlines() if " dd " in line or "aifo-" in line]


def _records(r: Routed) -> list[dict[str, Any]]:
    done = r.aifo("audit", str(r.spec), "--kind", "route", "-o", "json")
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_the_route_is_a_tmpfs_in_the_agent_and_nothing_on_the_host(routed_exec: Routed) -> None:
    r = routed_exec
    tmpfs = r.docker("inspect", "-f", "{{json .HostConfig.Tmpfs}}", r.container("a")).stdout
    assert "/run/aifo" in json.loads(tmpfs)
    mounts = r.docker("inspect", "-f", "{{json .Mounts}}", r.container("a")).stdout
    assert "/run/aifo" not in mounts  # no bind of a host folder
    done = r.exec("a", "sh", "-c", "where && cd sub && where")
    assert done.returncode == 0, done.stderr
    tc = r.docker("exec", r.container("tc"), "hostname").stdout.strip()
    assert done.stdout.decode().splitlines() == [f"{tc} /workspace", f"{tc} /workspace/sub"]
    route = Path(r.env["AIFO_STATE_DIR"]) / "sessions" / r.session / "route"
    assert not (route / "a").exists()  # only the host-only locks (`.a.host`)
    # Answered requests leave nothing behind (the shims removed their own folders).
    assert _in_agent(r, "ls -A /run/aifo/req").stdout == ""


def test_stdout_stderr_apart_and_the_exit_code(routed_exec: Routed) -> None:
    done = routed_exec.exec("a", "tboth", "101")  # cargo's 101 for a failed build
    assert (done.returncode, done.stdout, done.stderr) == (101, b"out\n", b"err\n")


def test_binary_stdin_and_odd_argv_round_trip(routed_exec: Routed) -> None:
    blob = os.urandom(3 << 20) + bytes(range(256))
    done = routed_exec.exec("a", "tcat", input=blob)
    assert done.returncode == 0 and done.stdout == blob
    args = ["a b", "", "line\nbreak", "ünï", "$HOME", "'\"", "-n"]
    done = routed_exec.exec("a", "targs", *args)
    assert done.stdout.split(b"\0")[:-1] == [a.encode() for a in args]
    done = routed_exec.exec("a", "sh", "-c", "targs \"$(printf '\\377\\376x')\"")
    assert done.stdout == b"\xff\xfex\0"


def test_stdin_in_frames_arrives_byte_for_byte_as_it_comes(routed_exec: Routed) -> None:
    """The caller's stdin travels in frames (each chunk sized by the worker) up to 1 MiB, then
    as it comes: both ways keep every byte, and a chunk reaches the tool when it is written."""
    blob = bytes(range(256)) * 4 + b"\n\n0\nR\n"  # NULs, newlines, what frames are made of
    done = routed_exec.exec("a", "tcat", input=blob)
    assert done.returncode == 0 and done.stdout == blob, done.stderr
    script = "(printf a; sleep 1; printf b) | tcat; echo; : | tcat; echo rc=$?"
    done = routed_exec.exec("a", "sh", "-c", script)
    assert done.stdout == b"ab\nrc=0\n", done.stderr
    started = time.monotonic()  # a line reaches the tool before the caller's input ends
    script = (
        "f=/workspace/.feed; rm -f $f; mkfifo $f; (echo bob; sleep 12) >$f & p=$!; "
        "tread <$f; kill $p; rm -f $f"
    )
    done = routed_exec.exec("a", "sh", "-c", script)
    assert done.stdout == b"name? got:bob\n", done.stderr
    assert time.monotonic() - started < 10


def test_only_allowed_variables_pass_and_the_audit_masks_secrets(routed_exec: Routed) -> None:
    done = routed_exec.exec("a", "sh", "-c", 'FOO=yes BAR=no tenv; cd sub && tboth 5 "$TOKEN"')
    lines = done.stdout.decode().splitlines()
    assert done.returncode == 5 and "FOO=yes" in lines and SECRET not in done.stdout.decode()
    assert not [x for x in lines if x.startswith(("BAR=", "TOKEN="))]
    last = _records(routed_exec)[-1]
    assert last["agent"] == "a" and last["toolchain"] == "tc" and last["outcome"] == "exited"
    assert last["argv"] == ["tboth", "5", "***"] and last["cwd"] == "/workspace/sub"


def test_a_signal_to_the_shim_reaches_the_routed_command(routed_exec: Routed) -> None:
    # INT is ignored by a background job of a script; TERM is trapped and forwarded.
    script = "tsleep 300 & p=$!; sleep 2; kill -TERM $p; wait $p; echo rc=$?"
    done = routed_exec.exec("a", "sh", "-c", script)
    assert done.stdout == b"rc=143\n", done.stderr
    assert "sleep 300" not in routed_exec.processes("tc")
    last = _records(routed_exec)[-1]
    assert last["outcome"] == "signalled" and last["signals"] == ["TERM"]


def test_concurrent_commands_and_the_concurrency_limit(routed_exec: Routed) -> None:
    r, ws = routed_exec, routed_exec.workspace
    script = "for i in 1 2 3 4; do tblock $i & done; wait"
    proc = subprocess.Popen(
        [sys.executable, "-m", "aifo", "exec", str(r.spec), "a", "--", "sh", "-c", script],
        env=r.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        until(lambda: len(os.listdir(ws / "run")) == 3, 60, what="three routed commands")
        queued = "ls -d /run/aifo/req/*/queued 2>/dev/null"
        until(lambda: len(_in_agent(r, queued).stdout.split()) == 1, 30, what="one queued")
        assert len(os.listdir(ws / "run")) == 3
        (ws / "release").touch()
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        counts = [int(n) for n in (ws / "counts").read_text().split()]
        assert len(counts) == 4 and max(counts) == 3
    finally:
        (ws / "release").touch()
        if proc.poll() is None:
            proc.kill()
        for p in (ws / "counts", ws / "release"):
            p.unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("write", "why"),
    [
        (
            "{ printf '/workspace\\0\\0'; head -c 5000 /dev/zero | tr '\\0' 9; "
            "printf '\\0tcat\\0'; }",
            "argument count",
        ),
        ("printf '/workspace\\0\\0003\\0tcat\\0a'", "truncated"),
        ("printf '\\377/w\\0\\0000\\0tcat\\0'", "not UTF-8"),
        ("printf '/workspace\\0\\0000\\0nosuchtool\\0'", "not routed"),
        (
            '{ rm "$d/in"; : >"$d/in"; printf \'/workspace\\0\\0001\\0tsleep\\00077\\0\'; }',
            "in is not a FIFO",
        ),  # fmt: skip
        ("head -c 300000 /dev/zero", "larger than"),
    ],
)
def test_every_bad_request_is_refused_with_126_and_a_record(
    routed_exec: Routed, write: str, why: str
) -> None:
    done = routed_exec.exec("a", "sh", "-c", HAND.replace("{WRITE}", write), timeout=60)
    assert done.stdout.decode().splitlines()[-1] == "exit=126", done.stderr
    assert why in done.stderr.decode()
    last = _records(routed_exec)[-1]
    assert last["outcome"] == "refused" and last["exit_code"] == 126 and why in last["reason"]
    assert "sleep 77" not in routed_exec.processes("tc")
    assert routed_exec.exec("a", "where").returncode == 0  # the router lives on


def test_a_stalled_reader_blocks_no_other_command(routed_exec: Routed) -> None:
    script = "(tzero | tsleep 600) >/dev/null 2>&1 & where; echo after"
    done = routed_exec.exec("a", "sh", "-c", script, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().splitlines()[-1] == "after"
    until(lambda: "cat /dev/zero" not in routed_exec.processes("tc"), 30)
    until(lambda: "sleep 600" not in routed_exec.processes("tc"), 30)


def test_a_caller_whose_reader_went_holds_nothing_for_the_flush_deadline(
    routed_exec: Routed,
) -> None:
    """`tool | head -c 100`: the caller's stdout reader goes, `out` says `G`; `err` still says
    `=` when its last frame is in (read by the pump while it watched for `G`, it must count)."""
    started = time.monotonic()
    done = routed_exec.exec("a", "sh", "-c", "tzero | head -c 100 | wc -c; where", timeout=120)
    took = time.monotonic() - started
    assert done.stdout.decode().split()[0] == "100", done.stderr
    assert "/workspace" in done.stdout.decode()
    assert took < 20, took  # 30 s more when `err`'s `=` went unheard (FLUSH_WAIT_S)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_aifo_exec_leaves_nothing_running_anywhere(
    routed_exec: Routed, sig: int
) -> None:
    r = routed_exec
    proc = subprocess.Popen(
        [sys.executable, "-m", "aifo", "exec", str(r.spec), "a", "--", "tsleep", "777"],
        env=r.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        until(lambda: "sleep 777" in r.processes("tc"), 60, what="sleep 777 to start")
        assert "dd bs=64" in r.processes("a")  # the router's control exec, in the agent
        proc.send_signal(sig)
        proc.communicate(timeout=60)
        assert proc.returncode != 0
        until(lambda: "sleep 777" not in r.processes("tc"), 30)
        # The router's execs in the agent (control, stdio) went with it.
        until(lambda: not _ours(r.processes("a")), 30, what=lambda: r.processes("a"))
        done = r.docker("exec", r.container("a"), "/run/aifo/bin/where")
        assert done.returncode == 126 and "no router" in done.stderr  # the last one out
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_burst_past_the_waiting_bound_is_refused_and_audited_once(routed_exec: Routed) -> None:
    before = len(_records(routed_exec))
    script = "i=0; while [ $i -lt 40 ]; do (tsleep 2; echo rc=$?) & i=$((i+1)); done; wait"
    done = routed_exec.exec("a", "sh", "-c", script, timeout=240)
    codes = sorted(done.stdout.decode().split())
    assert len(codes) == 40 and set(codes) == {"rc=0", "rc=126"}, done.stderr
    assert codes.count("rc=0") >= 11
    assert b"too many routed commands waiting" in done.stderr
    bursts = [x for x in _records(routed_exec)[before:] if x.get("refused")]
    refused = codes.count("rc=126")
    assert sum(x["refused"] for x in bursts) == refused
    assert 1 <= len(bursts) <= max(1, refused // 5)


@pytest.mark.slow
def test_a_flood_of_big_requests_is_bounded(routed_exec: Routed) -> None:
    r = routed_exec
    assert r.exec("a", "where").returncode == 0
    proc, out, err, peaks = run_flood(r)
    assert proc.returncode == 0 and out.split() == [b"made", b"sent"], err
    print(f"flood (exec transport): {peaks}")  # the numbers for the report
    assert peaks["threads"] < 64 and peaks["children"] < 64  # measured: 37 and 0
    assert peaks["hwm_kb"] < 300 * 1024
    assert _in_agent(r, "ls -A /run/aifo/req").stdout == ""  # the last router out clears it
    refused = [x for x in _records(r) if x["outcome"] == "refused"]
    assert any("larger than" in x["reason"] for x in refused)  # refused by size, unparsed
    assert all(len(json.dumps(x)) < 4096 for x in refused)


def test_a_router_killed_leaves_no_reader_that_takes_requests(routed_exec: Routed) -> None:
    r = routed_exec
    proc = subprocess.Popen(
        [sys.executable, "-m", "aifo", "exec", str(r.spec), "a", "--", "sleep", "30"],
        env=r.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        until(lambda: "dd bs=64" in r.processes("a"), 60, what="the router's control exec")
        proc.kill()  # SIGKILL: no cleanup at all; its control `dd` stays in the agent
        proc.communicate(timeout=60)
        assert "dd bs=64" in r.processes("a")
        # The next router sweeps it first: no request of the next exec goes to the dead one.
        done = r.exec("a", "sh", "-c", "where; where; where; where", timeout=60)
        assert done.returncode == 0 and len(done.stdout.splitlines()) == 4, done.stderr
        assert not _ours(r.processes("a")), r.processes("a")
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_route_folder_mounted_noexec_fails_closed_with_the_reason(
    session_name: str, busybox_image: str, tmp_path: Path
) -> None:
    """Swarm's tmpfs mounts are noexec: the shims could not run. The router says so at once."""
    from aifo.engine.choose import connect
    from aifo.errors import StateError
    from aifo.model import Container
    from aifo.route import folder as F
    from aifo.route.execroute import ExecTransport

    name = f"aifo-{session_name}-noexec"
    made = subprocess.run(
        ["docker", "run", "-d", "--name", name, "--label", f"io.aifo.session={session_name}",
         "--mount", "type=tmpfs,dst=/run/aifo,tmpfs-mode=1777", busybox_image, "sleep", "300"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    agent = Container(name="a", role="agent", docker_name=name, image=busybox_image)
    folder = F.prepare_private(tmp_path / "a", tmp_path / ".a.host")
    route = ExecTransport(connect(), agent, folder, {"where": ("toolchain/tc", ())}, "abc123")
    with pytest.raises(StateError, match=r"cannot run programs \(mounted noexec\?\)"):
        route._setup()


# The router's idle workers in the agent, one pid a line (busybox `ps`).
WORKERS = "ps -o pid,args | grep '[a]ifo-worker' | while read -r p _; do echo $p; done"


def _workers(r: Routed) -> set[str]:
    return set(_in_agent(r, WORKERS).stdout.split())


def test_warm_workers_wait_in_the_agent_and_serve_again(
    routed_exec: Routed,
) -> None:
    """No exec is started on a request's path when the pool is warm, and every worker serves
    again: its role ends with a whole answer (take, in, up, out, err), not with its exec."""
    from aifo.route.workers import POOL_SIZE

    script = f"where >/dev/null; sleep 2; {WORKERS}; echo -; where; sleep 2; {WORKERS}"
    done = routed_exec.exec("a", "sh", "-c", script, timeout=120)
    assert done.returncode == 0, done.stderr
    first, _, rest = done.stdout.decode().partition("-\n")
    before, after = set(first.split()), {x for x in rest.split() if x.isdigit()}
    assert POOL_SIZE <= len(before) <= 2 * POOL_SIZE, before
    assert POOL_SIZE <= len(after) <= 2 * POOL_SIZE, after
    # The command's five roles went to five of these; none ended with it.
    assert before <= after, (before, after)
    assert "/workspace" in rest  # the `where` ran
    assert not _workers(routed_exec)  # the router's exit took them with it


def test_a_worker_the_agent_killed_is_not_given_a_request(routed_exec: Routed) -> None:
    r, ws = routed_exec, routed_exec.workspace
    script = (
        "where >/dev/null && : >/workspace/warm; "
        "while [ ! -e /workspace/go ]; do sleep 0.1; done; where; echo rc=$?"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "aifo", "exec", str(r.spec), "a", "--", "sh", "-c", script],
        env=r.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        until(lambda: (ws / "warm").exists(), 60, what="the first routed command")
        from aifo.route.workers import POOL_SIZE

        until(lambda: len(_workers(r)) >= POOL_SIZE, 30, what="a warm pool")
        idle = _workers(r)
        assert _in_agent(r, f"kill {' '.join(sorted(idle))}").returncode == 0
        until(lambda: not idle & _workers(r), 30, what="the workers to end")
        (ws / "go").touch()
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.decode().splitlines()[-1] == "rc=0", err
    finally:
        for p in (ws / "warm", ws / "go"):
            p.unlink(missing_ok=True)
        if proc.poll() is None:
            proc.kill()


def test_an_agent_image_without_what_the_workers_use_fails_closed_with_the_reason(
    session_name: str, tmp_path: Path
) -> None:
    """The workers frame the streams with `dd iflag=fullblock` and size requests with `wc`:
    an image whose `dd` cannot read whole blocks is refused when the router starts, not per
    command. (A Debian image: busybox's `sh` runs its own `dd` whatever PATH says.)"""
    from aifo.engine.choose import connect
    from aifo.errors import StateError
    from aifo.model import Container
    from aifo.route import folder as F
    from aifo.route.execroute import ExecTransport

    image = "aifo-test/agent-cache:gemini-cli"  # dash and coreutils
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode:
        pytest.skip(f"{image} is not seeded")
    name = f"aifo-{session_name}-olddd"
    made = subprocess.run(
        ["docker", "run", "-d", "--name", name, "--label", f"io.aifo.session={session_name}",
         "--tmpfs", "/run/aifo:exec,mode=1777", "-e", "PATH=/tmp/old:/usr/bin:/bin",
         "--entrypoint", "sleep", image, "300"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    old_dd = (
        "#!/bin/sh\n"
        "case \"$*\" in *iflag*) echo 'dd: invalid input flag' >&2; exit 1;; esac\n"
        'exec /bin/dd "$@"\n'
    )
    put = subprocess.run(
        ["docker", "exec", "-i", name, "sh", "-c",
         "mkdir -p /tmp/old && cat >/tmp/old/dd && chmod 755 /tmp/old/dd"],
        input=old_dd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert put.returncode == 0, put.stderr
    agent = Container(name="a", role="agent", docker_name=name, image=image)
    folder = F.prepare_private(tmp_path / "a", tmp_path / ".a.host")
    route = ExecTransport(connect(), agent, folder, {"where": ("toolchain/tc", ())}, "abc123")
    with pytest.raises(StateError, match=r"needs wc, and dd that reads whole blocks"):
        route._setup()
