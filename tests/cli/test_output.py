"""Output: 80 columns with nothing cut, user words, one summary line, one error style, a JSON
error object for every `-o json` failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aifo.apply.events import Event
from aifo.apply.ops import _OPS
from aifo.plan.actions import Create, Plan, Replace
from aifo.ui.lines import plain_line
from aifo.ui.plan import done_summary, plan_table
from aifo.ui.status import render_status
from tests.cli.helpers import aifo

LONG = "a-rather-long-session-name-for-tests"


@pytest.fixture
def terminal_80(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TERM", "xterm")


def _visible(text: str) -> list[str]:
    import re

    return [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in text.splitlines()]


def _columns(lines: list[str]) -> list[str]:
    """Each table column's text, its cells' lines joined (folded values read whole again)."""
    out: dict[int, str] = {}
    for line in lines:
        if "│" in line:
            for i, cell in enumerate(line.split("│")):
                out[i] = out.get(i, "") + cell.strip()
    return [out[i] for i in sorted(out)]


def test_status_fits_80_columns_and_cuts_nothing(
    terminal_80: None, capsys: pytest.CaptureFixture[str]
) -> None:
    rows: list[dict[str, Any]] = [
        {
            "kind": "container",
            "name": f"aifo-{LONG}-an-agent-with-a-long-name",
            "resource": "agent/an-agent-with-a-long-name",
            "state": "running",
            "health": "healthy",
            "drift": True,
            "differences": [{"field": "networks", "expected": ["a"], "found": ["a", "bridge"]}],
        },
        {"kind": "network", "name": f"aifo-{LONG}-net", "resource": "network/net",
         "state": "present"},
    ]  # fmt: skip
    render_status(LONG, rows)
    lines = _visible(capsys.readouterr().out)
    assert all(len(line) <= 80 for line in lines), lines
    assert "…" not in "".join(lines)
    text = " ".join(_columns(lines))
    assert f"aifo-{LONG}-an-agent-with-a-long-name" in text  # folded, never cut
    assert "networks: expected" in text.replace("networks:expected", "networks: expected")
    assert "running (healthy)" in text or "running(healthy)" in text
    assert "note" not in "".join(lines[:4])  # an empty column is left out


def test_plan_table_fits_80_columns_and_shows_old_and_new(terminal_80: None) -> None:
    from rich.console import Console

    plan = Plan(
        LONG,
        (
            Replace(
                "agent/codex",
                "container",
                f"aifo-{LONG}-codex",
                ("env.RUST_LOG", "env.TOKEN"),
                changes=('env.RUST_LOG: "info" → "debug"', "env.TOKEN: *** → ***"),
            ),
            Create("network/sandbox", "network", f"aifo-{LONG}-sandbox", ("missing",)),
        ),
    )
    console = Console(width=80, force_terminal=True, record=True)
    console.print(plan_table(plan))
    lines = _visible(console.export_text())
    assert all(len(line) <= 80 for line in lines)
    assert "…" not in "".join(lines)
    text = " ".join(_columns(lines)).replace(" ", "")
    assert 'env.RUST_LOG:"info"→"debug"' in text and "env.TOKEN:***→***" in text
    assert f"aifo-{LONG}-codex" in text


def test_undo_and_commit_lines_use_words_not_op_names() -> None:
    for name in _OPS:
        line = plain_line(Event("undo.done", id="agent/x", op=name))
        assert line is not None and name not in line, line
        done = plain_line(Event("commit.done", op=name, message=f"{name} abc"))
        assert done is not None and name not in done, done


def test_one_past_tense_summary() -> None:
    assert plain_line(Event("apply.done", message="2 to create", duration_s=1.0)) is None
    plan = Plan("s", (Create("network/n", "network", "aifo-s-n", ("missing",)),))
    assert done_summary(plan, 1.23) == "Applied session 's' in 1.2s: created 1."


def test_json_error_objects_and_one_error_style(tmp_path: Path) -> None:
    missing = aifo("plan", "-o", "json", cwd=tmp_path)
    assert missing.returncode == 2
    error = json.loads(missing.stdout)["error"]
    assert error["kind"] == "usage" and error["exit_code"] == 2
    assert "no aifo.yaml" in error["message"] and "aifo init" in error["hint"]
    assert missing.stderr.startswith("error: ")
    (tmp_path / "aifo.yaml").write_text("version: 1\nsession: Bad_Name\n")
    invalid = aifo("config", "-o", "json", cwd=tmp_path)
    assert invalid.returncode == 2
    [issue] = json.loads(invalid.stdout)["error"]["items"]
    assert (issue["file"], issue["line"], issue["path"]) == ("aifo.yaml", 2, "session")
    assert invalid.stderr.startswith("aifo.yaml:2:")
    assert invalid.stderr.rstrip().endswith("error: the spec is invalid (1 error)")
    usage = aifo("validate", "-o", "json", "--bogus", cwd=tmp_path)
    assert usage.returncode == 2
    assert json.loads(usage.stdout)["error"]["kind"] == "usage"
    assert "Error:" not in usage.stderr and usage.stderr.startswith("error: ")
    assert "aifo validate --help" in usage.stderr
    graph = aifo("graph", "--format", "json", cwd=tmp_path)
    assert graph.returncode == 2 and json.loads(graph.stdout)["error"]["items"]


def test_a_hook_is_a_command_that_runs_and_an_image_is_named_once() -> None:
    from aifo.ui.plan import plan_lines

    plan = Plan(
        "s",
        (
            Create("image/busybox:latest", "image", "busybox:latest", ("pull",)),
            Create("agent/a", "container", "aifo-s-a", ("missing",)),
            Create("hook/a/init", "hook", "aifo-s-a", ("container created",)),
        ),
    )
    lines = plan_lines(plan)
    assert lines[0] == "Plan for session 's': 2 to create, 1 hook to run"
    assert lines[1] == "  + create  image/busybox:latest: pull"  # its ref once
    assert lines[2] == "  + create  agent/a (aifo-s-a): missing"
    assert lines[3] == "  » run     hook init (runs in a): container created"
    assert done_summary(plan, 1.0) == "Applied session 's' in 1.0s: created 2, ran 1 hook."


def test_plain_status_columns_line_up() -> None:
    from aifo.ui.status import status_lines

    rows: list[dict[str, Any]] = [
        {"kind": "network", "name": "aifo-s-sandbox", "resource": "network/sandbox",
         "state": "present", "drift": True,
         "differences": [{"field": "internal", "expected": False, "found": True}]},
        {"kind": "container", "name": "aifo-s-a", "resource": "agent/a", "state": "running",
         "health": "healthy"},
    ]  # fmt: skip
    lines = status_lines(rows)
    assert lines == [
        "KIND       NAME            RESOURCE         STATE",
        "network    aifo-s-sandbox  network/sandbox  present  drift",
        "  internal: expected false, found true",
        "container  aifo-s-a        agent/a          running  healthy",
    ]
