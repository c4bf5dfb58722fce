"""Fixtures for spec tests: a project folder, a fake $HOME, and a resolve() bound to both."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from aifo.sessionspec import ResolvedSpec, resolve


class Project:
    def __init__(self, root: Path) -> None:
        self.dir = root / "project"
        self.home = root / "home"
        self.dir.mkdir()
        self.home.mkdir()
        self.env: dict[str, str] = {"HOME": str(self.home)}

    def write(self, name: str, text: str) -> Path:
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def resolve(
        self, name: str = "aifo.yaml", profiles: tuple[str, ...] = (), **env: str
    ) -> ResolvedSpec:
        return resolve(self.dir / name, profiles, {**self.env, **env})


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project dir (the cwd, so locations read `aifo.yaml:L:C`) and an empty fake $HOME."""
    p = Project(tmp_path)
    monkeypatch.chdir(p.dir)
    return p


Resolver = Callable[[str, Mapping[str, str]], ResolvedSpec]
