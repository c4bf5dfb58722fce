"""One located problem in the user's input (`FILE:LINE:COL: path: message`); a SpecError
(aifo.errors) carries every Issue found."""

from __future__ import annotations

from dataclasses import dataclass

from aifo.location import Location


@dataclass(frozen=True, order=True)
class Issue:
    """One located problem in the user's input: `FILE:LINE:COL: path: message`."""

    location: Location | None
    path: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        what = f"{self.path}: " if self.path else ""
        text = f"{where}{what}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location
        return (loc.file, loc.line, loc.col, self.path) if loc else ("", 0, 0, self.path)
