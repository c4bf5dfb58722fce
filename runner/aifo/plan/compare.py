"""Comparing desired to actual: (field, desired, actual) records and the policies that judge them.

Like community.docker's DifferenceTracker: a `Differences` collects what differs, for display and
for decisions; *how* two values are compared (a policy) is kept apart from what the values are
(their shape). One home for these rules: plan, verify, status and drift detection all use them.
Pure: no Docker.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

Policy = Callable[[Any, Any], bool]  # (desired, actual) -> the same?


def strict(desired: Any, actual: Any) -> bool:
    return bool(desired == actual)


def unordered(desired: Iterable[Any], actual: Iterable[Any]) -> bool:
    """Collections compared as sets: order and repeats don't matter."""
    return set(desired) == set(actual)


def ignore_unset(desired: Any, actual: Any) -> bool:
    """`None` desired means "whatever Docker or the image picks": anything goes."""
    return desired is None or bool(desired == actual)


def subnet_key(text: str) -> str:
    """A subnet in one canonical form (`10.1.0.5/16` and `10.1.0.0/16` are the same network);
    text that isn't a subnet compares as written."""
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        return text


def same_subnet(desired: str | None, actual: Iterable[str]) -> bool:
    """A declared subnet is one of the network's subnets; no declared subnet: any will do."""
    if desired is None:
        return True
    return subnet_key(desired) in {subnet_key(s) for s in actual}


def show(value: Any) -> str:
    """A value as a plan line shows it."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple | list | set | frozenset):
        items = sorted(str(v) for v in value)
        return ", ".join(items) if items else "none"
    return str(value)


@dataclass(frozen=True)
class Difference:
    """One field that differs: what the spec wants, what Docker has."""

    field: str
    desired: Any
    actual: Any

    def line(self) -> str:
        return f"{self.field}: expected {show(self.desired)}, found {show(self.actual)}"

    def to_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, tuple | list | set | frozenset):
                return sorted(str(v) for v in value)
            return value

        return {"field": self.field, "expected": plain(self.desired), "found": plain(self.actual)}


class Differences:
    """The tracker: `add` compares with a policy and records the field when it differs."""

    def __init__(self) -> None:
        self._items: list[Difference] = []

    def add(self, field: str, desired: Any, actual: Any, policy: Policy = strict) -> None:
        if not policy(desired, actual):
            self._items.append(Difference(field, desired, actual))

    def __iter__(self) -> Iterator[Difference]:
        return iter(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def fields(self) -> tuple[str, ...]:
        return tuple(d.field for d in self._items)

    def freeze(self) -> tuple[Difference, ...]:
        return tuple(self._items)
