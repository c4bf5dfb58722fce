"""Find the shipped data folders (schema/, profiles/) in a wheel or in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent  # aifo/


def data_dir(name: str) -> Path:
    """`schema` or `profiles`: aifo/_data/<name> in a wheel, <repo>/<name> in a checkout."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"aifo installation is incomplete: no {name}/ folder near {_PACKAGE}")


def schema_path(kind: str = "session") -> Path:
    """`session` (aifo.yaml) or `profile` (a fragment: every key optional)."""
    return data_dir("schema") / f"{kind}.schema.json"
