"""Every `aifo` command shown to users exists as written: the CI example's workflow, the example
specs' comments, the README and the scripts. Checked against the click command tree, so renaming
a subcommand or an option breaks this test instead of the docs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from aifo.errors import UsageError
from tests.examples.aifo_lines import (
    aifo_invocations,
    check,
    comment_commands,
    markdown_commands,
)

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "ci" / ".github" / "workflows" / "agent.yml"
SPECS = sorted((ROOT / "examples").glob("*/aifo.yaml"))


def _workflow_runs() -> list[tuple[str, str]]:
    data: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return [
        (step.get("name", step["run"]), step["run"])
        for job in data["jobs"].values()
        for step in job["steps"]
        if "run" in step
    ]


def _check_all(found: list[tuple[str, list[str]]]) -> list[str]:
    problems = []
    for where, argv in found:
        try:
            check(argv)
        except (click.UsageError, UsageError) as exc:
            problems.append(f"{where}: `aifo {' '.join(argv)}`: {exc}")
    return problems


def test_ci_workflow_aifo_commands_exist() -> None:
    found = [(name, argv) for name, run in _workflow_runs() for argv in aifo_invocations(run)]
    used = {argv[0] for _, argv in found}
    assert {"validate", "plan", "apply", "exec", "logs", "destroy"} <= used, used
    assert _check_all(found) == []
    options = {o for _, argv in found for o in check(argv).options}
    assert {"--yes", "--volumes", "--tail"} <= options  # the option check saw them


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.parent.name)
def test_example_comment_commands_exist(spec: Path) -> None:
    text = comment_commands(spec.read_text(encoding="utf-8"))
    found = [(spec.parent.name, argv) for argv in aifo_invocations(text)]
    assert _check_all(found) == []


def test_readme_and_script_commands_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = [(f"README.md:{n}", argv) for n, argv in markdown_commands(readme)]
    assert len(found) >= 8, found  # the quick start, the offline examples, the Spec section
    for script in ("quickstart", "test", "bootstrap"):
        path = ROOT / "scripts" / script
        found += [(f"scripts/{script}", a) for a in aifo_invocations(path.read_text())]
    assert _check_all(found) == []


# --- the checker itself -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "aifo aply aifo.yaml",  # no such subcommand
        "aifo apply aifo.yaml --yess",
        "aifo logs aifo.yaml --tails 200",
        "aifo logs aifo.yaml --tail many",  # not an int
        "aifo destroy aifo.yaml --volume",
        "aifo plan -o yaml aifo.yaml",  # not a choice
        "aifo exec aifo.yaml codex --usr 1 -- ls",  # exec options stop at CMD, unknown ones fail
        "aifo exec --bogus aifo.yaml codex ls",  # passed through by click: caught by the look-up
        "aifo exec aifo.yaml codex",  # no CMD
        "aifo run --bogus aifo.yaml codex",
        "aifo run aifo.yaml",  # no AGENT
        "aifo --verbose",
        "aifo validate --strict aifo.yaml",
        "aifo -x plan",  # no such global option
    ],
)
def test_the_checker_rejects(line: str) -> None:
    [argv] = list(aifo_invocations(line))
    with pytest.raises((click.UsageError, UsageError)):
        check(argv)


@pytest.mark.parametrize(
    ("line", "command", "options"),
    [
        ('aifo exec aifo.yaml codex -- codex exec --full-auto "$TASK"', "exec", ()),
        ("aifo exec aifo.yaml worker -u 0 ls -u", "exec", ("-u",)),
        ("aifo run aifo.yaml aider -- --model gpt-4o", "run", ()),
        ("aifo logs aifo.yaml --tail 200", "logs", ("--tail",)),
        ("aifo destroy aifo.yaml --yes --volumes", "destroy", ("--yes", "--volumes")),
        ("aifo --version", "", ("--version",)),
        ("aifo validate -o json a.yaml b.yaml", "validate", ("-o",)),
        ("aifo apply --help", "apply", ("--help",)),
        ("aifo -f aifo.yaml exec codex -- ls -u", "exec", ()),
        ("aifo exec codex -u 0 -- ls", "exec", ("-u",)),
        ("aifo --session ci-2 status -o json", "status", ("-o",)),
        ("aifo logs -f codex", "logs", ("-f",)),
        ("aifo -f examples/quickstart plan", "plan", ()),
    ],
)
def test_the_checker_accepts(line: str, command: str, options: tuple[str, ...]) -> None:
    [argv] = list(aifo_invocations(line))
    assert check(argv).command == command
    assert check(argv).options == options


def test_invocations_are_found_in_shell_and_markdown() -> None:
    script = "set -e\nX=1 .venv/bin/aifo plan a.yaml && aifo status a.yaml # aifo nope\necho aifo"
    assert list(aifo_invocations(script)) == [["plan", "a.yaml"], ["status", "a.yaml"]]
    markdown = "\n".join(
        [
            "Run `aifo apply f.yaml --yes`; `aifo run FILE AGENT [-- ARGS]` is a synopsis.",
            "```console",
            "$ aifo destroy f.yaml --yes   # comment",
            "Destroyed session 'x'",
            "```",
            "```yaml",
            "command: aifo plan",
            "```",
        ]
    )
    assert list(markdown_commands(markdown)) == [
        (1, ["apply", "f.yaml", "--yes"]),
        (3, ["destroy", "f.yaml", "--yes"]),
    ]
