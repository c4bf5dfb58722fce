"""Plain-text tables that fit the terminal: empty columns dropped, nothing cut.

Columns keep their natural width except the last, which wraps (with a hanging indent) when the
line would pass the width; a table wider than the width even then is printed as is, never
truncated: a name cut short is worse than a long line.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence

GAP = "  "


def width() -> int:
    """The terminal's width (80 when not a terminal, as `COLUMNS` or a pipe says)."""
    return shutil.get_terminal_size((80, 24)).columns


def render(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, max_width: int | None = None
) -> list[str]:
    """Aligned lines: a header row, then one per row (wrapped last cells continue below)."""
    limit = max_width or width()
    keep = [i for i in range(len(headers)) if any(row[i] for row in rows)]
    heads = [headers[i] for i in keep]
    cells = [[row[i] for i in keep] for row in rows]
    if not heads:
        return []
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    indent = sum(w + len(GAP) for w in widths[:-1])
    room = max(limit - indent, 20)
    lines = [_line(heads, widths)]
    for row in cells:
        *lead, last = row
        wrapped = textwrap.wrap(last, room, break_on_hyphens=False, break_long_words=False) or [""]
        lines.append(_line([*lead, wrapped[0]], widths))
        lines += [" " * indent + more for more in wrapped[1:]]
    return lines


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    padded = [c.ljust(w) for c, w in zip(cells[:-1], widths[:-1], strict=True)]
    return GAP.join([*padded, cells[-1]]).rstrip()
