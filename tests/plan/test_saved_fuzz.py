"""Fuzzed plan files (issue 22 case 3): random and mutated plan files either load, only when they
are exactly what aifo signed, or raise a UsageError (exit 2) that quotes no file the plan names.
`AIFO_FUZZ_EXAMPLES` sets the case count, as in tests/spec/test_fuzz.py."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aifo.errors import UsageError
from aifo.plan import planfile
from aifo.plan import saved as savedplan

pytestmark = pytest.mark.slow  # the fuzz tier

SETTINGS = settings(
    max_examples=int(os.environ.get("AIFO_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SENTINEL = "fuzz-sentinel-51c0"
FIELDS = sorted(planfile.FIELDS)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=5),
    max_leaves=20,
)  # fmt: skip
HOSTILE_TEXT = st.sampled_from(
    ["/etc/shadow", "../../x", "/dev/zero", "", "a\n", "/", "~", "\u0000", "/proc/1/root",
     "x" * 5000, "keyless", "unset", "hmac-sha256:" + "0" * 64, "plan-demo", "PLAN-DEMO"]
)  # fmt: skip


@pytest.fixture
def signed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("AIFO_STATE_DIR", str(tmp_path.parent / f"{tmp_path.name}-state"))
    spec = tmp_path / "aifo.yaml"
    spec.write_text(f"version: 1\nsession: plan-demo\n# {SENTINEL}\n")
    data = savedplan.record(
        spec_file=str(spec), profiles=["toolchain/rust"], session_override=None,
        inputs={str(spec): "hmac-sha256:" + "0" * 64}, resources={"agent/a": "f" * 64},
        observed={"image x": "sha256:1"},
        plan={"session": "plan-demo", "actions": [{"op": "create", "id": "agent/a"}]},
    )  # fmt: skip
    path = tmp_path / "signed.plan"
    savedplan.write(path, data)
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _check(text: bytes, where: Path, original: dict[str, Any] | None) -> None:
    where.write_bytes(text)
    try:
        loaded = savedplan.load(where)
    except UsageError as exc:
        assert SENTINEL not in str(exc) + str(exc.hint or "")
        return
    assert original is not None and loaded.record == original, "a changed plan was accepted"


@SETTINGS
@given(
    field=st.sampled_from(FIELDS),
    value=JSON | HOSTILE_TEXT,
    action=st.sampled_from(["set", "delete", "nest"]),
)
def test_a_mutated_field_is_refused_cleanly(
    signed: dict[str, Any], tmp_path: Path, field: str, value: Any, action: str
) -> None:
    data = json.loads(json.dumps(signed))
    if action == "delete":
        data.pop(field, None)
    elif action == "nest" and isinstance(data.get(field), dict):
        data[field][str(value)[:20]] = value
    else:
        data[field] = value
    text = json.dumps(data).encode()
    _check(text, tmp_path / "m.plan", signed if data == signed else None)


@SETTINGS
@given(blob=st.binary(max_size=400), keep=st.integers(min_value=0, max_value=4000))
def test_random_and_cut_bytes_are_refused_cleanly(
    signed: dict[str, Any], tmp_path: Path, blob: bytes, keep: int
) -> None:
    whole = json.dumps(signed).encode()
    _check(blob, tmp_path / "r.plan", None)
    _check(whole[:keep] + blob, tmp_path / "c.plan", signed if blob == b"" and keep >= len(whole)
           else None)  # fmt: skip
