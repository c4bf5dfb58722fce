"""Fork mode on Podman (`AIFO_ENGINE=podman`): the round trip, and nothing left after `fork rm`,
checked through the `podman` CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.fork.helpers import Forks, git

pytestmark = [pytest.mark.podman, pytest.mark.timeout(600)]


def _podman_objects(prefix: str) -> list[str]:
    found = []
    for kind in ("container", "network", "volume"):
        fmt = "{{.Names}}" if kind == "container" else "{{.Name}}"
        listing = ["podman", kind, "ls", "-a" if kind == "container" else "-q", "--format", fmt]
        if kind != "container":
            listing.remove("-q")
        out = subprocess.run(listing, capture_output=True, text=True, check=True).stdout
        found += [f"{kind} {n}" for n in out.split() if n.startswith(f"aifo-{prefix}-f")]
    return sorted(found)


@pytest.fixture
def on_podman(forks: Forks, monkeypatch: pytest.MonkeyPatch) -> Forks:
    if shutil.which("podman") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true and podman is missing (run scripts/ensure-podman)")
        pytest.skip("podman is not installed (scripts/ensure-podman)")
    monkeypatch.setenv("AIFO_ENGINE", "podman")
    return forks


def test_round_trip_on_podman(on_podman: Forks) -> None:
    forks = on_podman
    try:
        forks.ok("fork", "new", "2")
        assert [r["state"] for r in forks.ls()] == ["running", "running"]
        assert len(_podman_objects(forks.session)) >= 6  # 2 x (2 containers, network, volume)
        forks.ok("fork", "exec", "1", "coder", "--", "sh", "-c",
                 "echo p >> a.txt && git commit -qam podman")  # fmt: skip
        assert [(r["ahead"], r["dirty"]) for r in forks.ls()] == [(1, False), (0, False)]
        assert "fast-forwarded" in forks.ok("fork", "merge", "1")
        assert git(forks.repo, "log", "-1", "--format=%s") == "podman"
        forks.ok("fork", "rm", "--all", "--yes")
        assert _podman_objects(forks.session) == []
        assert json.loads(forks.ok("fork", "ls", "-o", "json"))["forks"] == []
    finally:
        for obj in _podman_objects(forks.session):
            kind, name = obj.split(" ", 1)
            subprocess.run(["podman", kind, "rm", "-f", name], capture_output=True)
