"""The router against a hostile agent, without an engine (issue 22, cases 5 to 9): what the agent
writes in its route folder (requests, trees, links, FIFOs) and what reaches the audit log."""

from __future__ import annotations

import base64
import json
import os
import resource
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aifo.commands.audit import _text
from aifo.engine.process import signal_argv
from aifo.route import folder as F
from aifo.route import overflow as O
from aifo.route import shim
from aifo.route.pump import SignalQueue
from aifo.route.request import MAX_REQUEST, RequestError, argv_fields, open_request, parse
from aifo.state import audit


@pytest.fixture(autouse=True)
def _no_deep_trees_left(tmp_path: Path) -> Iterator[None]:
    """Whatever a test leaves, no deep tree outlives it (pytest's clean-up recurses)."""
    yield
    fd = os.open(tmp_path, F.DIR_FLAGS)
    try:
        for name in os.listdir(fd):
            F.remove_at(fd, name)
    finally:
        os.close(fd)


def _deep(root: Path, depth: int) -> None:
    """A `depth`-deep chain of folders under `root` (the agent can make one in its folder)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        os.mkfifo("fifo", dir_fd=fd)
        os.symlink("/etc", "link", dir_fd=fd)
    finally:
        os.close(fd)


# -- case 5: every parse failure is a refusal --------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        b"/w\x00\x00" + b"9" * 5000 + b"\x00t\x00",  # int() of it raises ValueError
        b"/w\x00\x00" + b"1" * 5 + b"\x00t\x00",  # above MAX_ARGC
        b"/w\x00\x00\xd9\xa3\x00t\x00",  # a non-ASCII digit
        b"\xff/w\x00\x000\x00t\x00",  # a cwd that is not UTF-8
        b"/w\x00\x002\x00t\x00a",  # truncated
        b"/w\x00\x00-1\x00t\x00",
        b"\x00" * (MAX_REQUEST + 1),
    ],
)
def test_odd_requests_are_refused_never_crash(data: bytes) -> None:
    with pytest.raises(RequestError):
        parse(data, ())


def test_a_huge_terminal_size_is_ignored_not_fatal() -> None:
    assert parse(b"/w\x00" + b"9" * 5 + b" 80\x000\x00t\x00", ()).tty is None
    assert parse(b"/w\x00" + b"9" * 5000 + b" 9\x000\x00t\x00", ()).tty is None


def _request_dir(root: Path, name: str = "1.0") -> Path:
    d = root / name
    d.mkdir(parents=True)
    for fifo in ("in", "out", "err", "sig"):
        os.mkfifo(d / fifo, 0o600)
    return d


# -- case 8: a request is read once, bounded, from a regular file with one link ------------------
def test_a_hard_linked_fifo_or_oversized_request_is_refused_unread(tmp_path: Path) -> None:
    root = tmp_path / "req"
    first = _request_dir(root, "1.0")
    (first / "req").write_bytes(b"/w\x00\x000\x00t\x00")
    second = _request_dir(root, "2.0")
    os.link(first / "req", second / "req")  # one file, many requests
    third = _request_dir(root, "3.0")
    os.mkfifo(third / "req")
    fourth = _request_dir(root, "4.0")
    with open(fourth / "req", "wb") as big:
        big.truncate(MAX_REQUEST + 1)  # sparse: refused by its size, never read
    fd = os.open(root, F.DIR_FLAGS)
    try:
        for name, why in [("1.0", "other links"), ("2.0", "other links"),
                          ("3.0", "not a regular file"), ("4.0", "larger than")]:  # fmt: skip
            with pytest.raises(RequestError, match=why):
                open_request(fd, name)
        os.unlink(second / "req")
        dir_fd, data = open_request(fd, "1.0")
        os.close(dir_fd)
        assert data == b"/w\x00\x000\x00t\x00"
        for bad in ("1.0\n", "x.0", "1", "../1.0"):  # names are matched whole
            with pytest.raises(RequestError, match="name"):
                open_request(fd, bad)
    finally:
        os.close(fd)


# -- case 6: removal is bounded and never stops ---------------------------------------------------
def test_removal_of_a_deep_planted_tree_is_iterative_and_bounded(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    root = tmp_path / "req"
    root.mkdir()
    (root / "1.0").mkdir()
    _deep(root / "1.0", 1500)
    os.symlink(outside, root / "1.0" / "out")
    os.mkfifo(root / "1.0" / "in")
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)
    fd = os.open(root, F.DIR_FLAGS)
    try:
        # 64 descriptors are plenty: removal holds at most MAX_DEPTH at once.
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, limit[1]))
        assert F.remove_at(fd, "1.0") is True
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, limit)
        os.close(fd)
    assert os.listdir(root) == []
    assert (outside / "keep").read_text() == "x"  # never through the symlink


def test_removal_goes_on_past_what_it_cannot_remove(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "r"
    (root / "t" / "a" / "inner").mkdir(parents=True)
    for name in ("stuck", "later"):
        (root / "t" / "a" / "inner" / name).write_text("x")
    (root / "t" / "b").write_text("x")
    unlink = os.unlink

    def failing(path: str, *, dir_fd: int | None = None) -> None:
        if path == "stuck":  # what a root-owned or busy entry does, even for root
            raise PermissionError(1, "Operation not permitted")
        unlink(path, dir_fd=dir_fd)

    monkeypatch.setattr(os, "unlink", failing)  # the module's `os` is this one
    fd = os.open(root, F.DIR_FLAGS)
    try:
        assert F.remove_at(fd, "t") is False  # no exception, and the rest went
    finally:
        os.close(fd)
    assert os.listdir(root / "t" / "a" / "inner") == ["stuck"]
    assert sorted(os.listdir(root / "t")) == ["a"]


def test_a_planted_deep_tree_does_not_break_the_next_prepare(tmp_path: Path) -> None:
    route, private = tmp_path / "a", tmp_path / ".a.host"
    F.prepare(route, private, {"cargo": ("toolchain/rust", [])})
    (route / "bin" / "stale").mkdir()
    _deep(route / "bin" / "stale", 1500)
    (route / "bin" / "cargo").unlink()
    (route / "bin" / "cargo").mkdir()  # a folder where the stub belongs
    (route / f".shim.{os.getpid()}.tmp").mkdir()  # and where its temporary file goes
    F.prepare(route, private, {"cargo": ("toolchain/rust", [])})
    assert os.listdir(route / "bin") == ["cargo"]
    assert (route / "bin" / "cargo").read_text().startswith("#!/bin/sh")


# -- case 7: markers match exactly --------------------------------------------------------------
def test_the_signal_script_matches_a_marker_whole(tmp_path: Path) -> None:
    environ = {n: tmp_path / f"{n}.env" for n in ("2", "20", "21", "x2")}
    for n, path in environ.items():
        key = "AIFO_ROUTE_ID" if n != "x2" else "XAIFO_ROUTE_ID"
        path.write_bytes(f"A=1\x00{key}=r1.{n.lstrip('x')}\x00B=2\x00".encode())
    argv = signal_argv("AIFO_ROUTE_ID=r1.2", "KILL")
    script = argv[2].replace("/proc/[0-9]*/environ", f"{tmp_path}/*.env")
    script = script.replace('kill -s "$2" "$p" 2>/dev/null', 'echo "$f"')
    done = subprocess.run(["sh", "-c", script, *argv[3:]], capture_output=True, text=True)
    assert done.stdout.split()[:-1] == [str(environ["2"])]
    family = signal_argv("AIFO_ROUTE_ID=r1.", "KILL", family=True)
    done = subprocess.run(["sh", "-c", script, *family[3:]], capture_output=True, text=True)
    assert sorted(done.stdout.split()[:-1]) == sorted(str(environ[n]) for n in ("2", "20", "21"))


# -- case 9: records keep bytes exactly, escape them, and cut with a marker -----------------------
def test_argv_bytes_and_control_characters_reach_the_log_and_the_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIFO_STATE_DIR", str(tmp_path / "state"))
    argv = ("tool", os.fsdecode(b"\xff\xfeok"), "\x1b]0;pwned\x07\x1b[2J" * 2, "é", "s3cr3t!")
    fields = argv_fields(argv, ["s3cr3t"])
    audit.record("s", "route", {"agent": "a", **fields}, secrets=["s3cr3t"])
    audit.record("s", "route", {"agent": "a", "argv": ["t", "x" * 100_000] + ["y"] * 1000})
    raw = (tmp_path / "state" / "sessions" / "s" / "audit.jsonl").read_bytes()
    assert b"s3cr3t" not in raw and b"\x1b" not in raw
    first, second = list(audit.read("s"))
    assert first["argv"][1] == "\\xff\\xfeok" and first["argv"][3] == "é"
    assert base64.b64decode(first["argv_bytes"]["1"]) == b"\xff\xfeok"
    assert first["argv"][2] == argv[2] and first["argv"][4] == "***!"
    assert second["argv"][1].startswith("x" * 4096 + "…[cut")
    assert second["argv"][-1] == f"…[cut {1002 - audit.MAX_ITEMS} items]"
    assert len(json.dumps(second)) < audit.MAX_LINE
    line = _text(first)
    assert "\x1b" not in line and "\\x1b]0;pwned" in line and "\x07" not in line


def test_control_characters_fill_no_line_past_what_readers_take(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIFO_STATE_DIR", str(tmp_path / "state"))
    argv = ["t"] + ["\x01" * 100_000] * 40  # every one a 6-byte JSON escape
    audit.record("s", "route", {"argv": argv})
    assert [r["argv"][0] for r in audit.read("s")] == ["t"]


def test_undecodable_argv_is_carried_encoded_and_rebuilt_by_sh(tmp_path: Path) -> None:
    args = [b"\xff", b"a\\b%s%%\n", b"\x01\x7f\xc3", b"end\n\n", b"", "é".encode(), b"-n",
            b"-\x80"]  # fmt: skip
    argv = shim.sidecar_argv(["printf-args", *(os.fsdecode(a) for a in args)])
    assert all(a.encode() for a in argv[3:])  # UTF-8 JSON text: no U+FFFD on the way
    script = argv[2].replace('exec "$@"', "shift; for a; do printf '%s\\0' \"$a\"; done")
    script = script.replace('command -v "$1"', "true")
    done = subprocess.run(["sh", "-c", script, *argv[3:]], capture_output=True)
    assert done.stdout.split(b"\0")[:-1] == args, done.stderr
    plain = shim.sidecar_argv(["t", "a b", "é"])
    assert plain[2] == shim.SIDECAR_WRAPPER and plain[4:] == ["t", "a b", "é"]


# -- case 8: the excess is refused by one thread, audited once per burst ---------------------------
def test_overflow_answers_every_refused_request_and_reports_one_burst(tmp_path: Path) -> None:
    root = tmp_path / "req"
    names = [f"{i}.0" for i in range(20)]
    for name in names:
        _request_dir(root, name)
    reports: list[dict[str, int]] = []
    finished: list[str] = []
    fd = os.open(root, F.DIR_FLAGS)
    over = O.Overflow(fd, lambda counts, _first: reports.append(counts), finished.append,
                      audit.now)  # fmt: skip
    got: dict[str, bytes] = {}

    def shim_of(name: str) -> None:  # what a shim does: read its outputs, then its exit code
        with open(root / name / "err", "rb") as err, open(root / name / "out", "rb") as out:
            got[name] = err.read() + out.read()
        got[name] += (root / name / "exit").read_bytes()

    readers = [threading.Thread(target=shim_of, args=(n,)) for n in names]
    try:
        for name in names:
            over.refuse(name, "too many requests waiting")
        over.refuse(names[0], "too many requests waiting")  # repeated: taken already
        over.note("malformed control message")
        assert threading.active_count() < 10  # one thread for all of them
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(30)
        deadline = time.monotonic() + 10
        while not reports and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        over.close()
        os.close(fd)
    assert all(v == b"aifo: too many routed commands waiting: refused\n126\n" for v in got.values())
    assert len(got) == 20 and sorted(finished) == sorted(names)
    assert reports == [{"too many requests waiting": 21, "malformed control message": 1}]


def test_a_thousand_signals_start_one_delivery_thread() -> None:
    sent: list[str] = []
    gate = threading.Event()

    def deliver(name: str) -> None:  # a delivery is an exec in the sidecar: slow
        gate.wait(5)
        sent.append(name)

    queue = SignalQueue(deliver)
    before = threading.active_count()
    for _ in range(1000):
        for name in ("INT", "TERM", "INT", "QUIT"):
            queue(name)
    assert threading.active_count() <= before + 1
    gate.set()
    deadline = time.monotonic() + 10
    while queue.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent[0] == "INT" and set(sent) == {"INT", "TERM", "QUIT"} and len(sent) <= 6
