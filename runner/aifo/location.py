"""Where a value came from: `file:line:col`, 1-based, as editors and compilers print it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Location:
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    @property
    def short(self) -> str:
        """`file:line`, for provenance listings where the column is noise."""
        return f"{self.file}:{self.line}"
