"""Saved plans are untrusted input (issue 22 case 3): `aifo apply PLANFILE` checks every field
with the command line's rules before it reads anything a plan names. A bad plan is exit 2 with a
clear message; it never echoes a file it was not meant to read, never lets a session name leave
the state folder, and never ends in "internal error". No engine is needed: refusals come first."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from aifo.errors import UsageError
from aifo.plan import saved as savedplan
from tests.cli.helpers import aifo

SENTINEL = "sentinel-7d1f: this line must never be shown"


def _record(spec: Path, session: str = "plan-demo", **override: Any) -> dict[str, Any]:
    data = savedplan.record(
        spec_file=str(spec),
        profiles=[],
        session_override=None,
        inputs={str(spec): "hmac-sha256:" + "0" * 64},
        resources={"agent/a": "f" * 64},
        observed={},
        plan={"session": session, "actions": [{"op": "create", "id": "agent/a"}]},
    )
    data.update(override)
    return data


def _signed(path: Path, data: dict[str, Any]) -> Path:
    """Written as `aifo plan --out` writes it: signed with the session's key."""
    savedplan.write(path, data)
    return path


def _forged(path: Path, data: dict[str, Any]) -> Path:
    """Written by someone else: any MAC but the right one."""
    path.write_text(json.dumps({**data, "mac": "hmac-sha256:" + "1" * 64}), encoding="utf-8")
    return path


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "aifo.yaml"
    path.write_text("version: 1\nsession: plan-demo\nagents:\n  a: {image: busybox}\n")
    return path


def _refused(plan: Path, cwd: Path) -> str:
    proc = aifo("apply", str(plan), cwd=cwd)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "internal error" not in out and "Traceback" not in out, out
    return out


def test_a_signed_plan_passes_the_checks(state_dir: Path, spec: Path, tmp_path: Path) -> None:
    plan = _signed(tmp_path / "p.plan", _record(spec))
    loaded = savedplan.load(plan)
    assert loaded.spec == str(spec) and loaded.session == "plan-demo"


def test_a_forged_plan_is_refused_before_its_spec_is_read(
    state_dir: Path, spec: Path, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text(f"{SENTINEL}\nanother: {SENTINEL}\n")
    _signed(tmp_path / "real.plan", _record(spec))  # the session has a key
    out = _refused(_forged(tmp_path / "p.plan", _record(notes)), tmp_path)
    assert "was not made by aifo here for session 'plan-demo'" in out
    assert "sentinel" not in out


def test_a_plan_naming_etc_shadow_is_refused_without_echoing_it(
    state_dir: Path, spec: Path, tmp_path: Path
) -> None:
    for data in (_record(Path("/etc/shadow")), _record(Path("/etc/passwd"))):
        out = _refused(_signed(tmp_path / "p.plan", data), tmp_path)
        assert "/etc is a host system folder" in out
        assert "root:" not in out and "unknown key" not in out


@pytest.mark.parametrize(
    "path",
    ["/dev/zero", "{tmp}/fifo.yaml", "{tmp}", "{home}/.ssh/config", "{state}/sessions/x/journal"],
)
def test_a_plan_naming_no_spec_a_user_could_name_is_refused(
    state_dir: Path, spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(f"Host x\n  # {SENTINEL}\n")
    monkeypatch.setenv("HOME", str(home))
    os.mkfifo(tmp_path / "fifo.yaml")
    (state_dir / "sessions" / "x").mkdir(parents=True)
    (state_dir / "sessions" / "x" / "journal").write_text(SENTINEL)
    named = Path(path.format(tmp=tmp_path, home=home, state=state_dir))
    out = _refused(_signed(tmp_path / "p.plan", _record(named)), tmp_path)
    assert "the saved plan's spec" in out and "is refused" in out
    assert "sentinel" not in out


@pytest.mark.parametrize("session", ["../../outside", "../x", "a/b", "UPPER", "x\n", "", "-x"])
def test_a_session_name_that_could_leave_the_state_folder_is_refused(
    state_dir: Path, spec: Path, tmp_path: Path, session: str
) -> None:
    before = sorted(p.name for p in tmp_path.parent.iterdir())
    out = _refused(_forged(tmp_path / "p.plan", _record(spec, session=session)), tmp_path)
    assert "is not a session name" in out
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == before
    assert not (state_dir / "sessions").exists() or not any((state_dir / "sessions").iterdir())


@pytest.mark.parametrize(
    "field", ["aifo", "session", "spec", "profiles", "session_override", "inputs", "resources",
              "observed", "plan", "mac"],
)  # fmt: skip
def test_a_missing_field_is_named(state_dir: Path, spec: Path, tmp_path: Path, field: str) -> None:
    data = {**_record(spec), "mac": "hmac-sha256:" + "1" * 64}
    del data[field]
    plan = tmp_path / "p.plan"
    plan.write_text(json.dumps(data))
    out = _refused(plan, tmp_path)
    assert f"not a valid saved plan: `{field}` is missing" in out


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("spec", 3), ("spec", "relative.yaml"), ("spec", "/x\u0000y"), ("spec", "/" + "a" * 5000),
        ("profiles", "toolchain/rust"), ("profiles", [1]), ("profiles", ["p"] * 65),
        ("session_override", 7), ("session_override", "other"), ("inputs", []),
        ("inputs", {"/a": "plain text"}), ("resources", {"a": 1}), ("observed", None),
        ("plan", []), ("plan", {"actions": "all"}), ("plan", {"session": "s", "actions": [1]}),
        ("mac", "yes"), ("aifo", None), ("session", ["plan-demo"]), ("version", True),
        ("surprise", 1),
    ],
)  # fmt: skip
def test_a_mistyped_field_is_named(
    state_dir: Path, spec: Path, tmp_path: Path, field: str, value: Any
) -> None:
    plan = tmp_path / "p.plan"
    data = {**_record(spec), "mac": "hmac-sha256:" + "1" * 64, field: value}
    plan.write_text(json.dumps(data))
    out = _refused(plan, tmp_path)
    assert "not a valid saved plan" in out or "format version" in out


@pytest.mark.parametrize(
    "text",
    [
        '{"format": "aifo-plan", "version": 1, ' + '"x": [' * 100_000 + "]" * 100_000 + "}",
        '{"format": "aifo-plan", "version": 1' + ' , "pad": "' + "x" * (17 << 20) + '"}',
        '{"format": "aifo-plan", "version": ' + "9" * 5000 + "}",
        '{"format": "aifo-plan", "version": 1, "spec": "\udcff"}',
        '["format", "aifo-plan"]',
    ],
    ids=["deep", "huge", "long-number", "bad-utf8", "not-an-object"],
)
def test_a_plan_file_that_is_no_json_object_is_refused(
    state_dir: Path, tmp_path: Path, text: str
) -> None:
    plan = tmp_path / "p.plan"
    plan.write_bytes(text.encode("utf-8", "surrogateescape"))
    proc = aifo("apply", str(plan), cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-2000:]
    assert "internal error" not in out and "Traceback" not in out


def test_a_plan_for_a_session_without_a_key_is_refused(
    state_dir: Path, spec: Path, tmp_path: Path
) -> None:
    """A keyless session's digests are all `keyless`: a forger could match them, so no plan."""
    data = _record(spec, inputs={str(spec): "keyless"})
    with pytest.raises(UsageError, match="was not made by aifo here"):
        savedplan.load(_forged(tmp_path / "p.plan", data))
    assert not (state_dir / "sessions" / "plan-demo").exists()  # checking made no key


def test_a_signed_plan_changed_afterwards_is_refused(
    state_dir: Path, spec: Path, tmp_path: Path
) -> None:
    plan = _signed(tmp_path / "p.plan", _record(spec))
    data = json.loads(plan.read_text())
    data["plan"]["actions"].append({"op": "remove", "id": "volume/data"})
    plan.write_text(json.dumps(data))
    with pytest.raises(UsageError, match="or it was changed since"):
        savedplan.load(plan)
