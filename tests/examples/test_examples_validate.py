"""Every example under examples/ validates, and the CI example's workflow does what it says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from aifo.sessionspec import resolve

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SPECS = sorted(EXAMPLES.glob("*/aifo.yaml"))


def _environ(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}


def test_the_catalog_examples_exist() -> None:
    names = {p.parent.name for p in SPECS}
    assert {"rust-codex", "node-aider", "multi-agent-isolated", "ci"} <= names


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.parent.name)
def test_example_validates(spec: Path, tmp_path: Path) -> None:
    resolved = resolve(spec, environ=_environ(tmp_path))
    assert resolved.data["session"]


def test_multi_agent_isolated_has_one_agent_with_egress(tmp_path: Path) -> None:
    data = resolve(EXAMPLES / "multi-agent-isolated" / "aifo.yaml", environ=_environ(tmp_path)).data
    networks = data["networks"]
    assert networks["sandbox"] == {"internal": True}
    assert not (networks["egress"] or {}).get("internal")
    agents = data["agents"]
    assert agents["planner"]["networks"] == ["sandbox", "egress"]
    assert agents["worker"]["networks"] == ["sandbox"]
    assert data["toolchains"]["busybox"]["networks"] == ["sandbox"]
    # Busybox-only, so CI can apply it: every image is the seeded stand-in, never pulled.
    for section in ("agents", "toolchains"):
        for body in data[section].values():
            assert body["image"] == "busybox:latest" and body["pull"] == "never"


def _workflow() -> dict[str, Any]:
    path = EXAMPLES / "ci" / ".github" / "workflows" / "agent.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_ci_workflow_installs_applies_execs_and_always_destroys() -> None:
    [job] = _workflow()["jobs"].values()
    steps = job["steps"]
    runs = [s.get("run", "") for s in steps]
    order = [
        next(i for i, r in enumerate(runs) if needle in r)
        for needle in ("install aifo", "aifo apply", "aifo exec", "aifo destroy")
    ]
    assert order == sorted(order)
    destroy = steps[order[-1]]
    assert destroy.get("if") == "always()"
    exec_step = steps[order[2]]
    # The key travels as env, never on the command line.
    assert "OPENAI_API_KEY" in exec_step["env"]
    assert "secrets." not in exec_step["run"]
