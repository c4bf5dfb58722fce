"""`${VAR}` interpolation in string values (never keys), as Docker Compose does it.

    ${VAR}            value of VAR, or "" when unset (an empty string stays empty)
    ${VAR:-default}   default when VAR is unset or empty;  ${VAR-default}: only when unset
    ${VAR:?message}   error when VAR is unset or empty;    ${VAR?message}: only when unset
    $$                a literal $

A bare `$NAME` is left alone: commands often want the container's own shell to expand it.
A missing required variable is an issue located at the scalar that holds it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from aifo.issue import Issue
from aifo.sessionspec.nodes import JsonPath, Node, format_path

_PATTERN = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<invalid>\{))"
)


class _Missing(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def substitute(
    text: str, environ: Mapping[str, str], unset: list[str] | None = None
) -> tuple[str, list[str]]:
    """Interpolate one string. Returns the result and the variables it read. Raises _Missing.

    Names read as plain `${VAR}` while unset are appended to `unset` (they become "").
    """
    used: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        if match.group("invalid"):
            raise _Missing("invalid interpolation: expected ${NAME}, ${NAME:-default} or $$")
        name = match.group("name")
        op, arg = match.group("op"), match.group("arg") or ""
        used.append(name)
        value = environ.get(name)
        empty = value is None or (value == "" and op is not None and op.startswith(":"))
        if op is None:
            if value is None and unset is not None:
                unset.append(name)
            return value or ""
        if op.endswith("-"):
            return arg if empty else str(value)
        if empty:
            reason = arg or f"${name} is required but not set"
            raise _Missing(f"${name}: {reason}" if arg else reason)
        return str(value)

    if "$" not in text:
        return text, used
    return _PATTERN.sub(replace, text), used


def interpolate(
    root: Node, environ: Mapping[str, str], warnings: list[Issue] | None = None
) -> list[Issue]:
    """Interpolate every string value under `root` in place; returns the issues found.

    An unset `${VAR}` (no default) becomes "" with a warning appended to `warnings`.
    """
    issues: list[Issue] = []

    def walk(node: Node, path: JsonPath) -> None:
        value = node.value
        if isinstance(value, dict):
            for key, child in value.items():
                walk(child, (*path, key))
        elif isinstance(value, list):
            for i, child in enumerate(value):
                walk(child, (*path, i))
        elif isinstance(value, str) and "$" in value:
            unset: list[str] = []
            try:
                result, used = substitute(value, environ, unset)
            except _Missing as missing:
                issues.append(Issue(node.loc, format_path(path), missing.message))
                return
            if warnings is not None:
                for name in dict.fromkeys(unset):
                    warnings.append(
                        Issue(
                            node.loc,
                            format_path(path),
                            f"${name} is not set; using an empty string",
                            f"set it, or write ${{{name}:-default}} or ${{{name}:?message}}",
                        )
                    )
            node.value = result
            if used:
                node.note = "from " + ", ".join(f"${name}" for name in dict.fromkeys(used))

    walk(root, ())
    return issues
