"""Table-driven spec tests: tests/spec/cases/*.yaml hold input files and the exact expected
errors (`LINE:COL: path: message`, optionally with the hint), warnings or resolved data.

Case format (a YAML list per file):

    - name: unknown key gets a did-you-mean
      files:                      # written into the project folder (the cwd); aifo.yaml is the spec
        aifo.yaml: |
          ...
      home: [.ssh/, .aws/config]  # created under the fake $HOME (trailing / = folder)
      env: {VAR: value}           # the process environment (HOME is always the fake home)
      profiles: [name]            # --profile
      errors:                     # exact, in order; a string, or {error: ..., hint: ...}
        - "3:1: sesion: unknown key 'sesion'"
      warnings: [...]             # same format; checked when present
      data: {...}                 # expected resolved data (subset of top-level keys); $PROJECT,
                                  # $HOME are replaced by the real folders
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from aifo.errors import SpecError
from aifo.issue import Issue

from .conftest import Project

CASES_DIR = Path(__file__).parent / "cases"


def _load_cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            params.append(pytest.param(case, id=f"{path.stem}: {case['name']}"))
    return params


def _render(issue: Issue, spec_file: str) -> str:
    loc = issue.location
    where = ""
    if loc is not None:
        where = f"{loc.line}:{loc.col}: " if loc.file == spec_file else f"{loc}: "
    path = f"{issue.path}: " if issue.path else ""
    return f"{where}{path}{issue.message}"


def _expected(entries: list[Any]) -> tuple[list[str], list[str | None]]:
    messages, hints = [], []
    for entry in entries:
        if isinstance(entry, dict):
            messages.append(entry["error"])
            hints.append(entry.get("hint"))
        else:
            messages.append(entry)
            hints.append(None)
    return messages, hints


def _substitute(value: Any, project: Project) -> Any:
    if isinstance(value, str):
        return value.replace("$PROJECT", str(project.dir)).replace("$HOME", str(project.home))
    if isinstance(value, dict):
        return {k: _substitute(v, project) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, project) for v in value]
    return value


def _check(actual: tuple[Issue, ...], entries: list[Any], project: Project) -> None:
    messages, hints = _expected(_substitute(entries, project))
    rendered = [_render(i, "aifo.yaml") for i in actual]
    assert rendered == messages
    for issue, hint in zip(actual, hints, strict=True):
        if hint is not None:
            assert issue.hint == hint


@pytest.mark.parametrize("case", _load_cases())
def test_case(case: dict[str, Any], project: Project) -> None:
    for name, text in case.get("files", {}).items():
        project.write(name, text)
    for entry in case.get("home", []):
        target = project.home / entry
        if entry.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("", encoding="utf-8")
    for link, to in case.get("symlinks", {}).items():
        (project.dir / link).symlink_to(_substitute(to, project))
    env = {k: str(v) for k, v in case.get("env", {}).items()}
    profiles = tuple(case.get("profiles", ()))
    if "errors" in case:
        with pytest.raises(SpecError) as caught:
            project.resolve(profiles=profiles, **env)
        _check(caught.value.issues, case["errors"], project)
        return
    try:
        spec = project.resolve(profiles=profiles, **env)
    except SpecError as error:  # pragma: no cover - shows the issues on failure
        pytest.fail(f"unexpected errors:\n{error}")
    if "warnings" in case:
        _check(spec.warnings, case["warnings"], project)
    for key, value in _substitute(case.get("data", {}), project).items():
        assert spec.data.get(key) == value, key
