"""Secret env entries: which ones are secret, and masking them for display (pure, reusable).

An env entry is secret when it is a mapping with `secret: true` or a `from_file`. Its value is
resolved only at apply time; everywhere else (config output, plans, logs, errors) it shows as ***.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from aifo.issue import Issue
from aifo.masking import MASK, mask_values

_VALUE_KEYS = ("value", "default")


def is_secret_entry(value: Any) -> bool:
    """True for `{value|from_host: ..., secret: true}` and for any `{from_file: ...}`."""
    return isinstance(value, dict) and (value.get("secret") is True or "from_file" in value)


def mask(data: Any) -> Any:
    """A copy of `data` where every secret entry's value (and default) reads `***`."""
    if isinstance(data, dict):
        if is_secret_entry(data):
            return {k: (MASK if k in _VALUE_KEYS else mask(v)) for k, v in data.items()}
        return {k: mask(v) for k, v in data.items()}
    if isinstance(data, list):
        return [mask(v) for v in data]
    return data


def secret_values(data: Any) -> list[str]:
    """Every scalar under a secret (or would-be secret) env entry, as text, longest first."""
    found: set[str] = set()
    if not isinstance(data, dict):
        return []
    for role in ("agents", "toolchains", "services"):
        section = data.get(role)
        for container in (section or {}).values() if isinstance(section, dict) else ():
            env = container.get("env") if isinstance(container, dict) else None
            for entry in (env or {}).values() if isinstance(env, dict) else ():
                if isinstance(entry, dict) and (is_secret_entry(entry) or "secret" in entry):
                    for key in _VALUE_KEYS:
                        found.update(_scalars(entry.get(key)))
    return sorted((v for v in found if v), key=len, reverse=True)


def _scalars(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _scalars(v)
    elif isinstance(value, list):
        for v in value:
            yield from _scalars(v)
    elif value is not None:
        yield str(value).lower() if isinstance(value, bool) else str(value)


def redact(issues: Iterable[Issue], values: list[str]) -> list[Issue]:
    """`issues` with every secret value in their message or hint shown as ***: the last guard,
    whatever path a message took (a label repeating a secret, a YAML 1.1 typing hint, ...)."""
    out: list[Issue] = []
    for issue in issues:
        message = mask_values(issue.message, values)
        hint = mask_values(issue.hint, values) if issue.hint else issue.hint
        out.append(Issue(issue.location, issue.path, message, hint))
    return out
