"""Command lines: a list as is, a string split like a POSIX shell would."""

from __future__ import annotations

import shlex
from typing import Any


def argv(value: str | list[Any] | None) -> tuple[str, ...] | None:
    """A command line: a list is taken as is; a string is split like a POSIX shell would."""
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(shlex.split(value))
    return tuple(str(v) for v in value)
