"""Every catalog agent that can be installed from the reachable registries builds offline from its
profile's Dockerfile on the seeded stand-ins, applied by aifo itself, and its CLI answers
`--version` inside aifo's secure defaults. The ones that cannot are named, with the reason, in the
README; nothing is skipped silently. Building takes minutes cold (seconds warm, from the build
cache), hence `slow`; CI runs it."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.images.helpers import ROOT, aifo, applied, need_images

# agent → the command whose `--version` must answer, and what it prints
AGENTS = {
    "aider": (["aider", "--version"], r"aider 0\.86\.2"),
    "claude-code": (["claude", "--version"], r"2\.1\.328 \(Claude Code\)"),
    "codex": (["codex", "--version"], r"codex-cli 0\.169\.0"),
    "gemini-cli": (["gemini", "--version"], r"(?m)^0\.61\.0$"),
    "opencode": (["opencode", "--version"], r"1\.18\.33"),
}
CACHE_REPO = "aifo-test/agent-cache"
# agent → why it cannot be built from the reachable registries (the README says the same)
NOT_OFFLINE = {
    "crush": "downloads its binary from GitHub releases",
    "plandex": "downloads its binary from GitHub releases",
    "openhands": "needs Python 3.12",
    "letta": "depends on packages the npm registry does not have",
}


def test_every_catalog_agent_is_either_tested_or_documented_as_not_offline() -> None:
    catalog = sorted(p.stem for p in (ROOT / "profiles" / "agent").glob("*.yaml"))
    assert sorted([*AGENTS, *NOT_OFFLINE]) == catalog
    readme = (ROOT / "README.md").read_text()
    for agent, why in NOT_OFFLINE.items():
        assert re.search(rf"`agent/{agent}`[^\n]*{re.escape(why)}", readme), agent


@pytest.fixture(scope="module")
def session(
    module_session_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Path]]:
    need_images("node:22.11.0-bookworm-slim", "python:3.12.7-slim-bookworm")
    root = tmp_path_factory.mktemp("agents")
    spec = root / "aifo.yaml"
    extends = ", ".join(f"agent/{a}" for a in AGENTS)
    spec.write_text(f"version: 1\nsession: {module_session_name}\nextends: [{extends}]\n")
    state = root.parent / f"{root.name}.state"  # beside the workspace: never mountable
    env = {"HOME": str(tmp_path_factory.mktemp("home"))}  # profiles create config folders here
    try:
        applied(aifo("apply", spec, "--yes", state=state, timeout=1800, env=env))
        yield spec, state
    finally:
        aifo("destroy", spec, "--yes", "--volumes", state=state, env=env)
        # The images this session built: kept under one cache tag per agent (their layers are
        # the build cache that makes the next run fast), the session's own tags removed.
        listing = subprocess.run(
            [
                "docker",
                "images",
                "--format",
                "{{.Repository}}:{{.Tag}}",
                "--filter",
                f"label=io.aifo.session={module_session_name}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout.split()
        for ref in listing:
            agent = ref.split(":")[0].removeprefix(f"aifo-{module_session_name}-")
            subprocess.run(
                ["docker", "tag", ref, f"{CACHE_REPO}:{agent}"],
                capture_output=True,
                timeout=60,
                check=False,
            )
            subprocess.run(
                ["docker", "image", "rm", ref], capture_output=True, timeout=60, check=False
            )


@pytest.mark.slow
@pytest.mark.docker
@pytest.mark.timeout(1800)  # the fixture builds five images cold: minutes on a busy machine
@pytest.mark.parametrize("agent", sorted(AGENTS))
def test_agent_cli_answers_inside_the_secure_defaults(
    session: tuple[Path, Path], agent: str
) -> None:
    spec, state = session
    argv, expected = AGENTS[agent]
    proc = aifo("exec", spec, agent, "--", *argv, state=state, timeout=120)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert re.search(expected, proc.stdout), proc.stdout
