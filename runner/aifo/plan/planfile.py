"""A plan file's fields as untrusted input: present, of their types, within their sizes.

aifo.plan.saved reads a plan file through `check_fields` before it looks at what the plan names;
every refusal is a UsageError (exit 2) naming the field. Pure, except `is_plan_file` (light:
every `aifo apply FILE` asks it, before it knows whether FILE is a spec).
"""

from __future__ import annotations

import os
import re
from typing import Any, NoReturn

from aifo.errors import UsageError

MAX_ENTRIES = 100_000  # per mapping or list
MAX_TEXT = 4096  # one name, path or digest
MAX_PROFILES = 64
MAC_FIELD = "mac"
FORMAT = "aifo-plan"
_SNIFF_BYTES = 256
FIELDS = {
    "format", "version", "aifo", "session", "spec", "profiles", "session_override", "inputs",
    "resources", "observed", "plan", MAC_FIELD,
}  # fmt: skip
_DIGEST = re.compile(r"(hmac-sha256:[0-9a-f]{64}|unset|keyless)\Z")
_MAC = re.compile(r"hmac-sha256:[0-9a-f]{64}\Z")


def short(value: Any, width: int = 60) -> str:
    """A value of the plan file for a message: its repr, cut at `width`."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _text(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_TEXT and "\0" not in value


def _texts(value: Any, limit: int = MAX_ENTRIES) -> bool:
    return isinstance(value, list) and len(value) <= limit and all(map(_text, value))


def _profiles(value: Any) -> bool:
    return _texts(value, MAX_PROFILES)


def _signature(value: Any) -> bool:
    return isinstance(value, str) and bool(_MAC.match(value))


def _digests(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) <= MAX_ENTRIES
        and all(_text(k) and isinstance(v, str) and _DIGEST.match(v) for k, v in value.items())
    )


def _names(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) <= MAX_ENTRIES
        and all(_text(k) and isinstance(v, str) and len(v) <= MAX_TEXT for k, v in value.items())
    )


def _actions(value: Any) -> bool:
    if not isinstance(value, dict) or not isinstance(value.get("session"), str):
        return False
    actions = value.get("actions", [])
    return (
        isinstance(actions, list)
        and len(actions) <= MAX_ENTRIES
        and all(isinstance(a, dict) and _text(a.get("op")) and _text(a.get("id")) for a in actions)
    )


class _Fields:
    """Every field: present, of its type, within its size."""

    RULES: tuple[tuple[str, str, Any], ...] = (
        ("aifo", "a version string", _text),
        ("session", "a session name", lambda v: isinstance(v, str)),
        ("spec", "an absolute path", lambda v: _text(v) and v.startswith("/")),
        ("profiles", f"a list of at most {MAX_PROFILES} profile names", _profiles),
        ("session_override", "null or a session name", lambda v: v is None or isinstance(v, str)),
        ("inputs", "a mapping of file names to keyed digests", _digests),
        ("resources", "a mapping of resource ids to config hashes", _names),
        ("observed", "a mapping of engine objects to fingerprints", _names),
        ("plan", "the plan's actions", _actions),
        (MAC_FIELD, "the plan's signature (hmac-sha256:...)", _signature),
    )  # fmt: skip

    def __init__(self, shown: str, data: dict[str, Any]) -> None:
        self.shown = shown
        self.data = data

    def check(self) -> None:
        unknown = sorted(set(self.data) - FIELDS, key=str)
        if unknown:
            fail(self.shown, short(unknown[0], 40).strip("'"), "is not a field of a saved plan")
        for name, what, valid in self.RULES:
            if name not in self.data:
                fail(self.shown, name, "is missing")
            if not valid(self.data[name]):
                fail(self.shown, name, f"must be {what}")


def fail(shown: str, name: str, problem: str) -> NoReturn:
    raise UsageError(
        f"{shown}: not a valid saved plan: `{name}` {problem}",
        hint="a plan file is written by `aifo plan --out FILE`; make a new one",
    )


def check_fields(shown: str, data: dict[str, Any]) -> None:
    """Every field of a plan file present, of its type, within its size; UsageError naming the
    first that is not (and any field a plan does not have)."""
    _Fields(shown, data).check()


def is_plan_file(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a saved plan (JSON with `"format": "aifo-plan"`), not a spec. Only a
    regular file is opened (a FIFO never blocks this)."""
    import stat

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except (OSError, ValueError):
        return False
    try:
        head = os.read(fd, _SNIFF_BYTES)
    except OSError:
        return False
    finally:
        os.close(fd)
    return head.lstrip().startswith(b"{") and FORMAT.encode() in head
