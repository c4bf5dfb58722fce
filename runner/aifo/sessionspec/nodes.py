"""Located values: the spec's data with the place each value was written, kept through merges.

A `Node` wraps one YAML value. Mapping values are `dict[str, Node]`, sequences `list[Node]`,
scalars plain Python values. `plain()` turns a tree into JSON-like data plus a flat
`path -> Location` table (the provenance `ResolvedSpec` exposes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aifo.location import JsonPath as JsonPath
from aifo.location import Location
from aifo.location import PathKey as PathKey

Mark = tuple[str, int, int]  # (file, line, col), 1-based: a Location not yet built (cheap)

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+\Z")


@dataclass(slots=True)
class Node:
    """A spec value with where it was written."""

    value: Any  # scalar | dict[str, Node] | list[Node]
    mark: Mark
    key_mark: Mark | None = None  # where the key naming this value is written
    raw: str | None = None  # source text of an unquoted yes/no/on/off or a retyped number
    note: str | None = None  # how the value was derived, e.g. "from $HOME"

    @property
    def loc(self) -> Location:
        return Location(*self.mark)

    @property
    def key_loc(self) -> Location | None:
        return Location(*self.key_mark) if self.key_mark else None


class LocationTable(Mapping[JsonPath, Location]):
    """`path -> Location`, stored as tuples and turned into Locations only when read."""

    __slots__ = ("marks",)

    def __init__(self, marks: dict[JsonPath, Mark] | None = None) -> None:
        self.marks: dict[JsonPath, Mark] = {} if marks is None else marks

    def __getitem__(self, path: JsonPath) -> Location:
        return Location(*self.marks[path])

    def get(self, path: JsonPath, default: Any = None) -> Any:
        mark = self.marks.get(path)
        return default if mark is None else Location(*mark)

    def __contains__(self, path: object) -> bool:
        return path in self.marks

    def __iter__(self) -> Iterator[JsonPath]:
        return iter(self.marks)

    def __len__(self) -> int:
        return len(self.marks)

    def pop(self, path: JsonPath) -> None:
        self.marks.pop(path, None)


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
    values: LocationTable
    keys: LocationTable
    notes: dict[JsonPath, str]
    raws: dict[JsonPath, str]


def plain(root: Node) -> Plain:
    values: dict[JsonPath, Mark] = {}
    keys: dict[JsonPath, Mark] = {}
    notes: dict[JsonPath, str] = {}
    raws: dict[JsonPath, str] = {}

    def walk(node: Node, path: JsonPath) -> Any:
        values[path] = node.mark
        if node.key_mark is not None:
            keys[path] = node.key_mark
        if node.note is not None:
            notes[path] = node.note
        value = node.value
        if type(value) is dict:
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        if type(value) is list:
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        if node.raw is not None:
            raws[path] = node.raw
        return value

    data = walk(root, ())
    return Plain(data, LocationTable(values), LocationTable(keys), notes, raws)


def nearest(table: Mapping[JsonPath, Location], path: JsonPath) -> Location | None:
    """The location of `path`, else of its closest recorded ancestor."""
    for end in range(len(path), -1, -1):
        if path[:end] in table:
            return table[path[:end]]
    return None
