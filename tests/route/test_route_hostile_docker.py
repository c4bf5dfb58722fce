"""A hostile agent against its router, on the real engine (issue 22, cases 5 to 9): hand-made
requests, planted trees, floods and odd bytes, from inside the agent as an attacker would."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aifo.route import folder as F
from tests.route.conftest import Routed

pytestmark = pytest.mark.docker

# A shim by hand: one request folder, `req` written by WRITE, the message sent; then it reads
# the answer as the real shim does and prints the exit code the router wrote.
HAND = r"""
d=/run/aifo/req/$$.7
mkdir "$d" && mkfifo "$d/in" "$d/out" "$d/err" "$d/sig" || exit 99
{WRITE} >"$d/req"
printf '%-63s\n' "$$.7" 1<>/run/aifo/ctl
dd bs=65536 <"$d/out" 2>/dev/null & o=$!
dd bs=65536 <"$d/err" >&2 2>/dev/null & e=$!
wait $o; wait $e
echo "exit=$(cat "$d/exit")"
"""


@pytest.fixture(autouse=True)
def _no_deep_trees_left(routed: Routed) -> Iterator[None]:
    """A planted tree must not outlive its test, whatever the router did: pytest's own clean-up
    of old temporary folders recurses (and fails) on one, for every later run on the machine."""
    yield
    route = _route_dir(routed)
    for folder in (route / "bin", route / "req"):
        if folder.is_dir():
            fd = os.open(folder, F.DIR_FLAGS)
            try:
                F.remove_at(fd, "stale")
            finally:
                os.close(fd)
    F.clear(route / "req")


def _records(r: Routed) -> list[dict[str, Any]]:
    done = r.aifo("audit", str(r.spec), "--kind", "route", "-o", "json")
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def _route_dir(r: Routed, agent: str = "a") -> Path:
    return Path(r.env["AIFO_STATE_DIR"]) / "sessions" / r.session / "route" / agent


def _deep(root: Path, depth: int) -> None:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)


@pytest.mark.parametrize(
    ("write", "why"),
    [
        (  # case 5: int() of a 5,000-digit count raised in the router's thread
            "{ printf '/workspace\\0\\0'; head -c 5000 /dev/zero | tr '\\0' 9; "
            "printf '\\0tcat\\0'; }",
            "argument count",
        ),
        ("printf '/workspace\\0\\0003\\0tcat\\0a'", "truncated"),
        ("printf '\\377/w\\0\\0000\\0tcat\\0'", "not UTF-8"),
        ("printf '/workspace\\0\\0000\\0nosuchtool\\0'", "not routed"),
        (  # a file where a FIFO belongs: refused before anything runs
            '{ rm "$d/in"; : >"$d/in"; printf \'/workspace\\0\\0001\\0tsleep\\00077\\0\'; }',
            "in is not a FIFO",
        ),
    ],
)
def test_every_bad_request_is_refused_with_126_and_a_record(
    routed: Routed, write: str, why: str
) -> None:
    done = routed.exec("a", "sh", "-c", HAND.replace("{WRITE}", write), timeout=60)
    assert done.stdout.decode().splitlines()[-1] == "exit=126", done.stderr
    assert why in done.stderr.decode()
    last = _records(routed)[-1]
    assert last["outcome"] == "refused" and last["exit_code"] == 126 and why in last["reason"]
    assert "sleep 77" not in routed.processes("tc")
    assert routed.exec("a", "where").returncode == 0  # the router lives on


def test_a_deep_tree_planted_in_the_route_folder_breaks_no_later_exec(routed: Routed) -> None:
    assert routed.exec("a", "where").returncode == 0  # the folder exists
    stale = _route_dir(routed) / "bin" / "stale"
    stale.mkdir()
    _deep(stale, 1500)  # what `mkdir d; cd d` 1,500 times in the agent makes
    done = routed.exec("a", "where")
    assert done.returncode == 0, done.stderr
    assert not stale.exists()


def test_a_deep_tree_in_a_request_folder_skips_no_cleanup(routed: Routed) -> None:
    # A routed command leaves a process behind; its request folder gets a planted tree.
    # The router's exit must still remove what it can and sweep the leftover process.
    script = "tbg 555; while [ ! -e /workspace/planted ]; do sleep 0.1; done"
    proc = subprocess.Popen(
        [sys.executable, "-m", "aifo", "exec", str(routed.spec), "a", "--", "sh", "-c", script],
        env=routed.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    req = _route_dir(routed) / "req"
    try:
        deadline = time.monotonic() + 60
        while "sleep 555" not in routed.processes("tc") or not os.listdir(req):
            assert time.monotonic() < deadline, "tbg never ran"
            time.sleep(0.1)
        for name in os.listdir(req):
            _deep(req / name, 1500)
        (routed.workspace / "planted").touch()
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert b"Traceback" not in err and b"RecursionError" not in err
        assert "sleep 555" not in routed.processes("tc")
        assert os.listdir(req) == []
    finally:
        (routed.workspace / "planted").unlink(missing_ok=True)
        if proc.poll() is None:
            proc.kill()
        routed.docker("exec", "-u", "0", routed.container("tc"), "pkill", "-f", "sleep 555")


def test_a_routed_command_cannot_take_down_the_shared_sidecar(routed: Routed) -> None:
    # Case 11: routed commands run as the agent's user, the sidecar's own process (PID 1 and
    # its child) as HOLDER_USER: `kill -9 1`, `kill -TERM 1`, `kill -9 -1` reach none of it.
    try:
        done = routed.exec("a", "tkill")
        assert b"kill pid 1: Operation not permitted" in done.stderr
        running = routed.docker("inspect", "-f", "{{.State.Running}}", routed.container("tc"))
        assert running.stdout.strip() == "true"
    finally:
        routed.docker("start", routed.container("tc"))
    uid = f"{os.getuid()}\n{os.getgid()}\n".encode()
    assert routed.exec("a", "tid").stdout == uid  # the agent's uid:gid (yours)
    top = routed.docker("top", routed.container("tc"), "-o", "pid,uid,args").stdout
    assert [line.split()[1] for line in top.splitlines()[1:]] == ["65534", "65534"], top
    assert routed.exec("a", "where").returncode == 0  # still serving, for every agent
    assert routed.exec("t", "where").returncode == 0
    # `aifo exec` straight into the toolchain runs as its user too, not as the holder.
    done = routed.aifo("exec", str(routed.spec), "tc", "--", "id", "-u")
    assert done.stdout == f"{os.getuid()}\n".encode(), done.stderr


def test_argv_bytes_reach_the_tool_exactly_and_the_audit_shows_them(routed: Routed) -> None:
    # Made in the agent: the agent's own exec API would turn them into U+FFFD on our side.
    script = (
        "targs \"$(printf '\\377\\376x')\" \"$(printf '\\033]0;t\\007\\001')\" "
        '"$(printf "%05000d" 0)" "a\\\\b%s" "-$(printf \'\\377\')"'
    )
    done = routed.exec("a", "sh", "-c", script)
    assert done.returncode == 0, done.stderr
    args = [b"\xff\xfex", b"\x1b]0;t\x07\x01", b"0" * 5000, b"a\\b%s", b"-\xff"]
    assert done.stdout.split(b"\0")[:-1] == args
    last = _records(routed)[-1]
    assert last["outcome"] == "exited"
    assert last["argv"][:3] == ["targs", "\\xff\\xfex", args[1].decode()]
    assert base64.b64decode(last["argv_bytes"]["1"]) == args[0]
    assert last["argv"][3].startswith("0" * 4096) and "…[cut 904 chars]" in last["argv"][3]
    text = routed.aifo("audit", str(routed.spec), "--kind", "route").stdout
    line = text.decode().splitlines()[-1]
    assert "targs \\xff\\xfex \\x1b]0;t\\x07\\x01" in line and "\x1b" not in line


def test_a_burst_past_the_waiting_bound_is_refused_and_audited_once(routed: Routed) -> None:
    # Agent a runs 3 at once; 3 + 8 may wait: the rest of 40 are refused at once, with 126.
    before = len(_records(routed))
    script = "i=0; while [ $i -lt 40 ]; do (tsleep 2; echo rc=$?) & i=$((i+1)); done; wait"
    done = routed.exec("a", "sh", "-c", script, timeout=180)
    codes = sorted(done.stdout.decode().split())
    assert len(codes) == 40 and set(codes) == {"rc=0", "rc=126"}, done.stderr
    assert codes.count("rc=0") >= 11
    assert b"too many routed commands waiting" in done.stderr
    bursts = [r for r in _records(routed)[before:] if r.get("refused")]
    refused = codes.count("rc=126")
    assert sum(r["refused"] for r in bursts) == refused
    assert 1 <= len(bursts) <= max(1, refused // 5)  # one per burst (a loaded machine may split)


# 200 requests of about 1 MiB each, sent at once and never read: half are hard links of one file
# (each link once made a 1 MiB audit record), half their own copies.
FLOOD = r"""
b=/run/aifo/base.$$
{ printf '/workspace\0\0001\0tcat\0'; head -c 1048000 /dev/zero | tr '\0' a; printf '\0'; } >"$b"
i=0
while [ $i -lt 200 ]; do
  d=/run/aifo/req/$$.$i
  mkdir "$d" && mkfifo "$d/in" "$d/out" "$d/err" "$d/sig"
  if [ $((i % 2)) = 0 ]; then ln "$b" "$d/req"; else cp "$b" "$d/req"; fi
  i=$((i+1))
done
rm "$b"; echo made
i=0; while [ $i -lt 200 ]; do printf '%-63s\n' "$$.$i" 1<>/run/aifo/ctl; i=$((i+1)); done
sleep 15; echo sent
"""


def _tree_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total


def _children(pid: int, task: str) -> int:
    """The child processes one thread of `pid` started; 0 once the thread is gone (threads end
    between the listing and the read: the watcher must outlive them, or its peaks stop)."""
    try:
        return len(Path(f"/proc/{pid}/task/{task}/children").read_text().split())
    except OSError:
        return 0


def _watch(pid: int, peaks: dict[str, int], stop: threading.Event) -> None:
    """Peak threads and child processes of `pid` (the host-side `aifo exec`)."""
    while not stop.wait(0.05):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if "VmHWM" not in fields:  # exited (a zombie)
            return
        peaks["threads"] = max(peaks["threads"], int(fields["Threads"]))
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return
        children = sum(_children(pid, t) for t in tasks)
        peaks["children"] = max(peaks["children"], children)
        peaks["hwm_kb"] = int(fields["VmHWM"].split()[0])


def run_flood(routed: Routed) -> tuple[subprocess.Popen[bytes], bytes, bytes, dict[str, int]]:
    """`aifo exec` of FLOOD in agent `a`, watched: (the process, its stdout, its stderr, the
    peaks `_watch` saw)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "aifo", "exec", str(routed.spec), "a", "--", "sh", "-c", FLOOD],
        env=routed.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    peaks = {"threads": 0, "children": 0, "hwm_kb": 0}
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(proc.pid, peaks, stop), daemon=True)
    watcher.start()
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        stop.set()
        watcher.join()
        if proc.poll() is None:
            proc.kill()
    return proc, out, err, peaks


@pytest.mark.slow
def test_a_flood_of_big_requests_is_bounded(routed: Routed) -> None:
    state = Path(routed.env["AIFO_STATE_DIR"])
    assert routed.exec("a", "where").returncode == 0
    before = _tree_size(state)
    proc, out, err, peaks = run_flood(routed)
    assert proc.returncode == 0 and out.split() == [b"made", b"sent"], err
    grown = _tree_size(state) - before
    print(f"flood: {peaks}, state grew {grown} bytes")  # the numbers for the report
    assert peaks["threads"] < 64 and peaks["children"] < 64
    assert peaks["hwm_kb"] < 300 * 1024
    assert grown < 50 << 20
    assert os.listdir(_route_dir(routed) / "req") == []  # the last router out clears it
    refused = [r for r in _records(routed) if r["outcome"] == "refused"]
    assert any("other links" in r["reason"] for r in refused)  # the hard links: refused unread
    assert all(len(json.dumps(r)) < 4096 for r in refused)  # a refused request writes little
