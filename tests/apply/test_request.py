"""aifo.apply.request: what one `aifo apply` run does (mode, spec, saved plan) and when it may
replace or remove without asking (issue 23: the command module only wires). Pure, table-driven."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aifo.apply.request import ApplyOptions, must_ask
from aifo.errors import UsageError
from aifo.plan import saved as savedplan


def _options(**kw: Any) -> ApplyOptions:
    base: dict[str, Any] = {
        "spec_file": None, "session_name": None, "profiles": (), "yes": False, "parallel": 8,
        "lock_timeout": 30.0, "output": "text",
    }  # fmt: skip
    return ApplyOptions(**{**base, **kw})


def _find(given: str | None) -> str:
    return given or "found/aifo.yaml"


def _session(name: str | None) -> str | None:
    return name


@pytest.mark.parametrize(
    ("kw", "mode", "spec"),
    [
        ({}, "once", "found/aifo.yaml"),
        ({"spec_file": "x.yaml"}, "once", "x.yaml"),
        ({"watch": True}, "watch", "found/aifo.yaml"),
        ({"watch": True, "down_on_exit": True}, "watch", "found/aifo.yaml"),
        ({"dry_run": True}, "dry-run", None),
        ({"wait": True, "wait_timeout": 3.0}, "once", "found/aifo.yaml"),
    ],
)
def test_the_mode_and_spec(kw: dict[str, Any], mode: str, spec: str | None) -> None:
    request = _options(**kw).request(_find, _session)
    assert (request.mode, request.spec_file, request.saved) == (mode, spec, None)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"wait_timeout": 3.0}, "--wait-timeout needs --wait"),
        ({"dry_run": True, "watch": True}, "--dry-run and --watch don't go together"),
        ({"down_on_exit": True}, "--down-on-exit needs --watch"),
    ],
)
def test_combinations_that_make_no_sense(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _options(**kw).request(_find, _session)


def test_a_saved_plan_fixes_spec_profiles_and_session_and_needs_no_question(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIFO_STATE_DIR", str(tmp_path.parent / f"{tmp_path.name}-state"))
    spec = tmp_path / "aifo.yaml"
    spec.write_text("version: 1\nsession: s\n")
    data = savedplan.record(
        spec_file=str(spec), profiles=["toolchain/rust"], session_override="s", inputs={},
        resources={}, observed={}, plan={"session": "s", "actions": []},
    )  # fmt: skip
    plan = tmp_path / "p.plan"
    savedplan.write(plan, data)
    request = _options(spec_file=str(plan)).request(_find, _session)
    assert (request.mode, request.spec_file, request.profiles, request.session, request.yes) == (
        "once", str(spec), ("toolchain/rust",), "s", True,
    )  # fmt: skip
    assert request.saved is not None and request.saved.path == str(plan)
    for extra in ({"watch": True}, {"session_name": "t"}, {"profiles": ("x",)}):
        with pytest.raises(UsageError, match="a saved plan fixes"):
            _options(spec_file=str(plan), **extra).request(_find, _session)


@pytest.mark.parametrize(
    ("destructive", "yes", "interactive", "ask"),
    [(0, False, False, False), (2, True, False, False), (2, False, True, True)],
)
def test_when_to_ask(destructive: int, yes: bool, interactive: bool, ask: bool) -> None:
    assert must_ask(destructive, yes=yes, interactive=interactive) is ask


def test_nobody_to_ask_without_a_terminal_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="would replace or remove 3 object"):
        must_ask(3, yes=False, interactive=False)
