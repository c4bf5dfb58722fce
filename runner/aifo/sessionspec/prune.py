"""The parts of a spec that passed the schema, so semantic checks can run on them too.

Each schema issue cuts its spot out of a copy of the data: the key it names, or, inside a list,
the whole list (removing one item would shift the indexes, and so the locations, of the rest).
The locations stay valid for everything kept. A problem at the root leaves nothing to check.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from aifo.issue import Issue
from aifo.location import JsonPath
from aifo.sessionspec.nodes import Plain, format_path


def cut_of(path: JsonPath) -> JsonPath:
    """What an issue at `path` removes: the path up to its first list index."""
    for i, key in enumerate(path):
        if isinstance(key, int):
            return path[:i]
    return path


def prune(flat: Plain, paths: Iterable[JsonPath]) -> tuple[Plain, set[JsonPath]] | None:
    """A copy of `flat` without the cut spots, and the cuts; None when a cut is the root."""
    cuts = {cut_of(p) for p in paths}
    if () in cuts:
        return None
    data: Any = copy.deepcopy(flat.data)
    for cut in sorted(cuts, key=len):
        parent = data
        for key in cut[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent.pop(cut[-1], None)
    return replace(flat, data=data), cuts


def outside(issues: Iterable[Issue], cuts: set[JsonPath]) -> list[Issue]:
    """The semantic issues that aren't about a cut spot: none at or below it, and none on an
    ancestor that names it (such as "no image" where the schema already flagged `image`)."""
    spots = [(format_path(c), str(c[-1])) for c in cuts]

    def under(path: str, parent: str) -> bool:
        return path == parent or (path.startswith(parent) and path[len(parent)] in ".[")

    def related(issue: Issue) -> bool:
        return any(
            under(issue.path, spot) or (under(spot, issue.path) and key in issue.message)
            for spot, key in spots
        )

    return [i for i in issues if not related(i)]
