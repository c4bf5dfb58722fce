"""Located values: the spec's data with the place each value was written, kept through merges.

A `Node` wraps one YAML value. Mapping values are `dict[str, Node]`, sequences `list[Node]`,
scalars plain Python values. `plain()` turns a tree into JSON-like data plus a flat
`path -> Location` table (the provenance `ResolvedSpec` exposes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from runner.location import Location

PathKey = str | int
JsonPath = tuple[PathKey, ...]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(slots=True)
class Node:
    value: Any  # scalar | dict[str, Node] | list[Node]
    loc: Location
    key_loc: Location | None = None  # where the key naming this value is written
    raw: str | None = None  # source text of an unquoted yes/no/on/off (a YAML 1.1 boolean)
    note: str | None = None  # how the value was derived, e.g. "from $HOME"


def format_path(path: Iterable[PathKey]) -> str:
    """`agents.codex.mounts[1].target`; keys that aren't bare words read `env["A.B"]`."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _BARE_KEY.match(part):
            out.append(f".{part}" if out else part)
        else:
            out.append('["' + part.replace("\\", "\\\\").replace('"', '\\"') + '"]')
    return "".join(out)


@dataclass(frozen=True)
class Plain:
    """A node tree flattened: data, where each value and each key was written, derivation notes."""

    data: Any
    values: dict[JsonPath, Location]
    keys: dict[JsonPath, Location]
    notes: dict[JsonPath, str]
    raws: dict[JsonPath, str]


def plain(root: Node) -> Plain:
    values: dict[JsonPath, Location] = {}
    keys: dict[JsonPath, Location] = {}
    notes: dict[JsonPath, str] = {}
    raws: dict[JsonPath, str] = {}

    def walk(node: Node, path: JsonPath) -> Any:
        values[path] = node.loc
        if node.key_loc is not None:
            keys[path] = node.key_loc
        if node.note is not None:
            notes[path] = node.note
        value = node.value
        if isinstance(value, dict):
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        if node.raw is not None:
            raws[path] = node.raw
        return value

    data = walk(root, ())
    return Plain(data, values, keys, notes, raws)


def nearest(table: Mapping[JsonPath, Location], path: JsonPath) -> Location | None:
    """The location of `path`, else of its closest recorded ancestor."""
    for end in range(len(path), -1, -1):
        loc = table.get(path[:end])
        if loc is not None:
            return loc
    return None
