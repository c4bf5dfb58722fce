"""aifo.state.audit: append, read back, masking, concurrent writers, torn lines; `aifo audit`."""

from __future__ import annotations

import json
import multiprocessing
import stat
import textwrap
from pathlib import Path

import pytest

from aifo.cli import main
from aifo.state import audit

SESSION = "t-audit"


def test_record_then_read_back(state_dir: Path) -> None:
    audit.record(SESSION, "route", {"agent": "a", "argv": ["cargo", "build"], "exit_code": 0})
    audit.record(SESSION, "egress", {"host": "example.invalid", "allowed": False})
    entries = list(audit.read(SESSION))
    assert [e["kind"] for e in entries] == ["route", "egress"]
    assert entries[0]["argv"] == ["cargo", "build"] and entries[0]["time"].endswith("Z")
    assert [e["kind"] for e in audit.read(SESSION, kinds=["egress"])] == ["egress"]
    path = audit.audit_path(SESSION)
    assert path.name == "audit.jsonl" and path.parent.name == SESSION
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_field_cannot_replace_time_or_kind(state_dir: Path) -> None:
    entry = audit.record(SESSION, "route", {"kind": "forged", "time": "yesterday"})
    assert entry["kind"] == "route" and entry["time"] != "yesterday"


def test_secret_values_are_masked_everywhere(state_dir: Path) -> None:
    secret = "s3cr3t-value"
    audit.record(
        SESSION,
        "route",
        {"argv": ["curl", f"--token={secret}"], "env": {secret: secret}, "cwd": "/workspace"},
        secrets=[secret, ""],
    )
    raw = audit.audit_path(SESSION).read_text()
    assert secret not in raw
    assert json.loads(raw)["argv"] == ["curl", "--token=***"]


def test_no_log_reads_as_empty(state_dir: Path) -> None:
    assert list(audit.read("t-never-written")) == []


def test_torn_foreign_and_oversized_lines_are_skipped(state_dir: Path) -> None:
    audit.record(SESSION, "route", {"n": 1})
    with audit.audit_path(SESSION).open("ab") as f:
        f.write(b'not json\n[1, 2]\n{"no": "kind"}\n')
        f.write(b"{" + b"x" * (audit.MAX_LINE + 10) + b"\n")
        f.write(b'{"kind": "route", "n": 2, "time": "t"}\n{"kind": "rou')
    skipped = [0]
    assert [e["n"] for e in audit.read(SESSION, skipped=skipped)] == [1, 2]
    assert skipped == [5]  # counted, so `aifo audit` says so (tests below)


def _writer(args: tuple[str, int]) -> None:
    root, k = args
    import os

    os.environ["AIFO_STATE_DIR"] = root
    for i in range(50):
        audit.record(SESSION, "route", {"writer": k, "i": i, "pad": "x" * 5000})


def test_concurrent_writers_never_interleave(state_dir: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.map(_writer, [(str(state_dir), k) for k in range(4)])
    entries = list(audit.read(SESSION))
    assert len(entries) == 200
    for k in range(4):
        assert [e["i"] for e in entries if e["writer"] == k] == list(range(50))


def test_aifo_audit_command(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "aifo.yaml"
    spec.write_text(
        textwrap.dedent(
            f"""\
            version: 1
            session: {SESSION}
            agents:
              a: {{image: busybox:latest}}
            """
        )
    )
    fields = {"agent": "a", "toolchain": "rust", "argv": ["cargo", "test"], "cwd": "/workspace"}
    audit.record(SESSION, "route", {**fields, "exit_code": 101, "duration_s": 1.5})
    audit.record(SESSION, "egress", {"host": "h", "allowed": True})
    with pytest.raises(SystemExit) as done:
        main(["audit", str(spec), "-o", "json", "--kind", "route"])
    assert done.value.code == 0
    out = json.loads(capsys.readouterr().out)
    assert [e["exit_code"] for e in out] == [101]
    with pytest.raises(SystemExit):
        main(["audit", str(spec)])
    text = capsys.readouterr().out.splitlines()
    assert "a -> rust  exit=101  1.500s  cwd=/workspace  cargo test" in text[0]
    assert "egress  host=h  allowed=True" in text[1]
    with audit.audit_path(SESSION).open("ab") as f:
        f.write(b"not json\n")
    with pytest.raises(SystemExit):
        main(["audit", str(spec), "-o", "json"])
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 2
    assert "note: 1 line(s) of" in captured.err and "were skipped" in captured.err
