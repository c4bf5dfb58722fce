"""Rendering a resolved spec as YAML, plain or with provenance (`aifo config --explain`).

Secrets are masked before anything is rendered. With provenance, each leaf value carries a
trailing, aligned `# FILE:LINE` comment naming where it was set (and `(from $VAR)` when it was
interpolated or read from the host environment).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from aifo.sessionspec.nodes import JsonPath
from aifo.sessionspec.secrets import mask

if TYPE_CHECKING:
    from aifo.sessionspec import ResolvedSpec

# no ":" (YAML 1.1 reads 22:22 as a number) and no leading "." (.5, .inf)
_PLAIN = re.compile(r"^[A-Za-z_/@~][A-Za-z0-9_ ./@+~-]*\Z")
_SPECIAL = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}
MAX_COMMENT_COLUMN = 72


def scalar(value: Any) -> str:
    """One YAML scalar on one line, quoted only when YAML would misread it."""
    if isinstance(value, str):
        if (
            _PLAIN.match(value)
            and value.lower() not in _SPECIAL
            and not value.endswith((" ", ":"))
            and ": " not in value
            and " #" not in value
        ):
            return value
    elif isinstance(value, bool) or value is None or isinstance(value, int):
        return (
            "null"
            if value is None
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
        )
    if isinstance(value, str) and any(ord(c) < 0x20 for c in value):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a YAML "..." scalar
    import yaml

    text: str = yaml.safe_dump(value, default_flow_style=True, width=1 << 30, allow_unicode=True)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def to_yaml(data: Any) -> str:
    """Block-style YAML of JSON-like `data`, key order kept."""
    import yaml

    text: str = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return text


def explain(spec: ResolvedSpec) -> str:
    """The resolved spec (secrets masked) with `# FILE:LINE` after each leaf, aligned."""
    lines: list[tuple[str, str]] = []

    def where(path: JsonPath) -> str:
        loc = spec.location(*path)
        text = loc.short if loc else ""
        note = spec.notes.get(path)
        return f"{text} ({note})" if note else text

    def emit(value: Any, path: JsonPath, indent: str, first: str | None = None) -> None:
        # `first` is the prefix of the first line when it differs ("- " for list items)
        lead = first if first is not None else indent
        if isinstance(value, dict) and value:
            for i, (key, child) in enumerate(value.items()):
                pre = lead if i == 0 else indent
                child_path = (*path, key)
                label = f"{pre}{scalar(key)}:"
                if isinstance(child, dict | list) and child:
                    lines.append((label, ""))
                    if isinstance(child, list):
                        emit(child, child_path, indent + "  ")
                    else:
                        emit(child, child_path, indent + "  ")
                else:
                    lines.append((f"{label} {_leaf(child)}", where(child_path)))
        elif isinstance(value, list) and value:
            for i, child in enumerate(value):
                child_path = (*path, i)
                if isinstance(child, dict) and child:
                    emit(child, child_path, indent + "  ", first=indent + "- ")
                elif isinstance(child, list) and child:
                    lines.append((f"{indent}-", ""))
                    emit(child, child_path, indent + "  ")
                else:
                    lines.append((f"{indent}- {_leaf(child)}", where(child_path)))
        else:
            lines.append((f"{lead}{_leaf(value)}", where(path)))

    emit(mask(spec.data), (), "")
    width = min(max((len(text) for text, note in lines if note), default=0), MAX_COMMENT_COLUMN)
    out = [f"{text.ljust(width)}  # {note}" if note else text for text, note in lines]
    return "\n".join(out) + "\n"


def _leaf(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return scalar(value)
