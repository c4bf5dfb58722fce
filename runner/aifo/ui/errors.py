"""Located errors for people (plain text, one per line) and machines (JSON-ready dicts)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aifo.issue import Issue


def issue_dict(issue: Issue) -> dict[str, Any]:
    """`{"file", "line", "col", "path", "message", "hint"}`; unknown positions are null."""
    loc = issue.location
    return {
        "file": loc.file if loc else None,
        "line": loc.line if loc else None,
        "col": loc.col if loc else None,
        "path": issue.path,
        "message": issue.message,
        "hint": issue.hint,
    }


def render_issues(issues: Iterable[Issue], *, prefix: str = "") -> str:
    """`[prefix]FILE:LINE:COL: path: message` per issue, hints indented below, position order."""
    ordered = sorted(issues, key=Issue.sort_key)
    return "\n".join(f"{prefix}{issue}" for issue in ordered)


def summary(count: int, noun: str = "error") -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
