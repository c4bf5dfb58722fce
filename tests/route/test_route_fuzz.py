"""The router's request parser under random and mutated input (issue 22): a request either parses
or is refused with a RequestError, never another exception, and what parses keeps argv byte for
byte (to the audit record and, through the sidecar's decoder, to the tool).
`AIFO_FUZZ_EXAMPLES` sets the case count."""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aifo.route import folder as F
from aifo.route import shim
from aifo.route.request import MAX_REQUEST, Request, RequestError, argv_fields, open_request, parse
from aifo.state import audit

EXAMPLES = int(os.environ.get("AIFO_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck)
)  # fmt: skip
ARG = st.binary(max_size=40).filter(lambda b: b"\0" not in b)
PIECES = [
    b"\0", b"9" * 5000, b"-1", b"99999", b"\xff", b"\xd9\xa3", b"=", b"40 120", b" ", b"\n",
    b"/workspace", b"..", b"TERM=x", b"0", b"4096", b"4097",
]  # fmt: skip


def _request(cwd: bytes, tty: bytes, argv: list[bytes], env: list[bytes]) -> bytes:
    fields = [cwd, tty, str(len(argv) - 1).encode(), *argv, *env]
    return b"".join(f + b"\0" for f in fields)


def _check(data: bytes) -> Request | None:
    try:
        return parse(data, {"TERM", "LANG"})
    except RequestError as exc:
        assert str(exc)  # something to tell the caller
        return None


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_are_refused(data: bytes) -> None:
    _check(data)


@FUZZ
@given(
    st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=8)), max_size=12),
    st.integers(min_value=0, max_value=60),
)
def test_mutated_requests_parse_or_are_refused(pieces: list[bytes], cut: int) -> None:
    base = _request(b"/workspace", b"", [b"tcat", b"x"], [b"TERM=xterm"])
    data = base + b"".join(pieces)
    _check(data)
    _check(data[:cut])  # a truncated file
    _check(b"".join(pieces))


@FUZZ
@given(
    st.lists(ARG, min_size=1, max_size=6),
    st.lists(st.sampled_from([b"TERM=x", b"LANG=C", b"SECRET=s", b"bad"]), max_size=3),
)
def test_what_parses_keeps_argv_exactly_to_the_audit_record(
    argv: list[bytes], env: list[bytes]
) -> None:
    req = _check(_request(b"/workspace", b"24 80", argv, env))
    assert req is not None
    assert [os.fsencode(a) for a in req.argv] == argv
    assert set(req.env) <= {"TERM", "LANG"} and req.tty == (24, 80)
    fields = audit.clip(argv_fields(req.argv, ()))
    for i, arg in enumerate(argv):
        if str(i) in fields.get("argv_bytes", {}):
            assert base64.b64decode(fields["argv_bytes"][str(i)]) == arg
        else:
            assert fields["argv"][i].encode() == arg
    for a in fields["argv"]:
        a.encode()  # text the log can hold (raises otherwise)


@settings(max_examples=min(EXAMPLES, 40), deadline=None)
@given(st.lists(ARG, min_size=1, max_size=5))
def test_the_sidecar_decoder_rebuilds_any_argv(argv: list[bytes]) -> None:
    coded = shim.sidecar_argv([os.fsdecode(a) for a in argv])
    for a in coded:
        a.encode()  # UTF-8, JSON-safe: the engine changes nothing (raises otherwise)
    script = coded[2].replace('exec "$@"', "for a; do printf '%s\\0' \"$a\"; done")
    script = script.replace('command -v "$1"', "true")
    done = subprocess.run(["sh", "-c", script, *coded[3:]], capture_output=True, check=True)
    assert done.stdout.split(b"\0")[:-1] == argv


KINDS = ["file", "fifo", "symlink", "hardlink", "dir", "missing", "big"]


@FUZZ
@given(st.sampled_from(KINDS), st.binary(max_size=200), st.sampled_from(["1.0", "x", "1.0/.."]))
def test_any_request_folder_is_read_or_refused(kind: str, data: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "1.0").mkdir()
        req = root / "1.0" / "req"
        if kind in ("file", "hardlink"):
            req.write_bytes(data)
            if kind == "hardlink":
                os.link(req, root / "other")
        elif kind == "fifo":
            os.mkfifo(req)
        elif kind == "symlink":
            req.symlink_to(root / "other")
            (root / "other").write_bytes(data)
        elif kind == "dir":
            req.mkdir()
        elif kind == "big":
            with open(req, "wb") as f:
                f.truncate(MAX_REQUEST + 1)
        fd = os.open(root, F.DIR_FLAGS)
        try:
            dir_fd, got = open_request(fd, name)
        except RequestError:
            assert kind != "file" or name != "1.0"
            return
        finally:
            os.close(fd)
        os.close(dir_fd)
        assert kind == "file" and got == data
        _check(got)
