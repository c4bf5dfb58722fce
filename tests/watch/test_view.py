"""The text and JSON Lines views of the watch loop (no Docker)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from aifo.errors import ApplyFailed, EngineError
from aifo.issue import Issue
from aifo.location import Location
from aifo.ui.events import JsonLines
from aifo.ui.watch import JsonWatchView, TextWatchView
from aifo.watch import Applied, Failed, Invalid, NoChange, RoundResult, make_watch_set

ISSUE = Issue(
    Location("aifo.yaml", 7, 5), "agents.a.comand", "unknown key", "did you mean command?"
)


def _results() -> list[RoundResult]:
    return [
        RoundResult(1, Applied(("create agent/a",)), 1.25),
        RoundResult(2, Invalid((ISSUE,)), 0.01),
        RoundResult(3, NoChange(), 0.02),
        RoundResult(4, Failed(ApplyFailed(EngineError("boom"))), 0.5),
    ]


def test_text_view_lines(tmp_path: Path) -> None:
    out = io.StringIO()
    view = TextWatchView(Console(file=out, width=200), base_dir=tmp_path)
    view.watching(make_watch_set([tmp_path / "aifo.yaml"]))
    view.round_started(2, (str(tmp_path / "aifo.yaml"),))
    for result in _results():
        view.round_finished(result)
    view.watching(make_watch_set([tmp_path / "aifo.yaml", tmp_path / "p" / "x.yaml"]))
    view.stopped(destroyed=False)
    text = out.getvalue()
    assert "watching aifo.yaml" in text
    assert "round 2: aifo.yaml changed" in text
    assert "round 1: applied 1 change in 1.2s" in text and "create agent/a" in text
    assert "aifo.yaml:7:5: agents.a.comand: unknown key" in text
    assert "round 2: invalid (1 error)" in text
    assert "round 3: no changes" in text
    assert "apply failed: boom" in text and "round 4: failed and rolled back" in text
    assert f"now watching +{Path('p') / 'x.yaml'}" in text
    assert "the session keeps running" in text


def test_json_view_events() -> None:
    out = io.StringIO()
    view = JsonWatchView(JsonLines(out).write)
    view.watching(make_watch_set(["/x/aifo.yaml"]))
    view.watching(make_watch_set(["/x/aifo.yaml"]))  # unchanged: no event
    view.round_started(1, ())
    for result in _results():
        view.round_finished(result)
    view.stopped(destroyed=True)
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["event"] for e in events] == [
        "watch.watching",
        "watch.round",
        "watch.applied",
        "watch.invalid",
        "watch.nochange",
        "watch.failed",
        "watch.stopped",
    ]
    assert events[0]["paths"] == ["/x/aifo.yaml"]
    assert events[3]["errors"][0] == {
        "file": "aifo.yaml",
        "line": 7,
        "col": 5,
        "path": "agents.a.comand",
        "message": "unknown key",
        "hint": "did you mean command?",
    }
    assert events[6]["destroyed"] is True
