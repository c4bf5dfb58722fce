"""How a failed command reports: one style for people (`error: MESSAGE` then `  hint: ...`)
and, when the command was asked for `-o json`, one JSON object on stdout for machines:

    {"error": {"type": "SpecError", "message": "...", "hint": "...", "exit_code": 2,
               "issues": [{"file", "line", "col", "path", "message", "hint"}, ...]}}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

_JSON_FLAGS = ("-o", "--output", "--format")


def wants_json(argv: Sequence[str]) -> bool:
    """Whether the command line asked for JSON output (words after `--` belong to CMD)."""
    words = list(argv)
    for i, word in enumerate(words):
        if word == "--":
            return False
        if word in _JSON_FLAGS and i + 1 < len(words) and words[i + 1] == "json":
            return True
        if word in ("-ojson", "--output=json", "--format=json"):
            return True
    return False


def error_object(
    kind: str,
    message: str,
    exit_code: int,
    *,
    hint: str | None = None,
    issues: Sequence[dict[str, Any]] = (),
) -> str:
    payload: dict[str, Any] = {"type": kind, "message": message, "exit_code": exit_code}
    if hint:
        payload["hint"] = hint
    if issues:
        payload["issues"] = list(issues)
    return json.dumps({"error": payload})


def human(message: str, hint: str | None = None) -> str:
    return f"error: {message}" + (f"\n  hint: {hint}" if hint else "")
