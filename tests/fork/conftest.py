"""Fixtures of the fork tests: a repository, a state folder, teardown by label prefix."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fork.helpers import AGENT_IMAGE, Forks, make_repo, remove_forks_of


@pytest.fixture(scope="session")
def agent_image() -> str:
    proc = subprocess.run(["docker", "run", "--rm", AGENT_IMAGE, "git", "--version"],
                          capture_output=True, text=True)  # fmt: skip
    if proc.returncode != 0:
        pytest.fail(f"{AGENT_IMAGE} (with git) is missing: run scripts/seed-images")
    return AGENT_IMAGE


@pytest.fixture
def forks(session_name: str, state_dir: Path, tmp_path: Path) -> Iterator[Forks]:
    repo = make_repo(tmp_path / "work", session_name)
    yield Forks(repo, session_name, state_dir)
    remove_forks_of(session_name)
