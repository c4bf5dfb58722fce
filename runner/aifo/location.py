"""Where a value came from: `file:line:col`, 1-based, as editors and compilers print it, and
the JSON path of the value inside the spec (`("services", "api", "env", 0)`)."""

from __future__ import annotations

from dataclasses import dataclass

PathKey = str | int
JsonPath = tuple[PathKey, ...]  # the one name for a path into the spec's data


@dataclass(frozen=True, order=True)
class Location:
    """Where a value is written: FILE:LINE:COL (1-based)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    @property
    def short(self) -> str:
        """`file:line`, for provenance listings where the column is noise."""
        return f"{self.file}:{self.line}"
