"""The README tells the truth about the scripts: the quick start matches scripts/quickstart, the
test command is the one .ci/run calls, and every script it names exists."""

from __future__ import annotations

import os
import re
from pathlib import Path

from aifo.compile import compile_session
from aifo.compile.hostcontext import check_context
from aifo.sessionspec import resolve
from tests.examples.aifo_lines import aifo_invocations, markdown_commands

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def test_every_script_the_readme_names_exists() -> None:
    named = set(re.findall(r"(?<![\w/.-])((?:scripts|\.ci)/[\w.-]+)", README))
    assert {"scripts/quickstart", "scripts/test", "scripts/seed-images", ".ci/run"} <= named
    for path in sorted(named):
        assert os.access(ROOT / path, os.X_OK), f"README names {path}: not an executable file"


def test_the_readme_test_command_is_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    runs = [line.split() for line in ci.splitlines() if not line.lstrip().startswith("begin ")]
    [ci_line] = [words for words in runs if "scripts/test" in words]
    assert ci_line[-1] == "scripts/test", ci_line  # `timeout 900 scripts/test`, no extra args
    quick = _section("Quick start")
    console = re.search(r"```console\n(.*?)```", quick, re.S)
    assert console is not None
    commands = [line[2:].split("#")[0].strip() for line in console.group(1).splitlines()]
    assert commands == ["scripts/quickstart", "scripts/test"]


def test_the_quick_start_describes_scripts_quickstart() -> None:
    script = (ROOT / "scripts" / "quickstart").read_text(encoding="utf-8")
    shown = [argv for argv in aifo_invocations(script)]
    assert [a[0] for a in shown] == ["validate", "apply", "status"]
    spec = {a[1] for a in shown}
    assert spec == {"examples/quickstart/aifo.yaml"}
    assert "scripts/bootstrap" in script
    quick = _section("Quick start")
    assert "until `apply` is wired" not in README
    for argv in shown:
        assert f"`aifo {argv[0]}" in quick, f"README's quick start doesn't mention aifo {argv[0]}"
    # What it leaves behind, by the names Docker will show, and how to remove it.
    environ = {"HOME": "/nonexistent", "PATH": "/usr/bin:/bin"}
    session = compile_session(
        resolve(ROOT / "examples/quickstart/aifo.yaml", environ=environ), context=check_context()
    )
    assert f"session `{session.name}`" in quick
    for name in [n.docker_name for n in session.networks] + [
        c.docker_name for c in session.containers
    ]:
        assert f"`{name}`" in quick, name
    destroys = [a for _, a in markdown_commands(quick) if a[:1] == ["destroy"]]
    assert ["destroy", "examples/quickstart/aifo.yaml", "--yes"] in destroys


def test_the_readme_documents_offline_examples() -> None:
    examples = _section("Examples")
    assert "scripts/seed-images" in examples
    for folder in sorted((ROOT / "examples").iterdir()):
        assert f"[{folder.name}](examples/{folder.name}" in examples, folder.name
