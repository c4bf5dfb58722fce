"""Bad input never produces a traceback: random and mutated YAML either resolves or raises a
SpecError whose every issue is located. The fast schema check agrees with jsonschema."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aifo.errors import SpecError
from aifo.spec import resolve
from aifo.spec.schema import quick_check, validator

REPO = Path(__file__).resolve().parents[2]
SEEDS = [
    (REPO / "aifo.yaml.example").read_text(encoding="utf-8"),
    *[p.read_text(encoding="utf-8") for p in sorted(REPO.glob("examples/*/aifo.yaml"))],
]
TOKENS = [
    ":", "- ", "{", "}", "[", "]", "\t", "\n", "  ", "'", '"', "&a", "*a", "!!str ", "!!binary ",
    "<<: ", "#", "%", "@", "`", "|", ">", "~", "no", "on", "yes", "2024-01-01", "22:22", "1.5",
    "null", "${X}", "${X:?gone}", "$$", "${", "extends: [./x.yaml]", "agents:", "env:",
    "secret: true", "source: /etc", "volume: v", "tmpfs: /t", "image: ", "version: 1",
    "session: s", "\x00",
]  # fmt: skip
pytestmark = pytest.mark.slow  # the fuzz tier: hundreds of specs per test

SETTINGS = settings(
    max_examples=int(os.environ.get("AIFO_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def workdir() -> Iterator[tuple[Path, dict[str, str]]]:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        project.mkdir()
        (Path(tmp) / "home").mkdir()
        yield project, {"HOME": str(Path(tmp) / "home"), "X": "x"}


def _outcome(text: str, workdir: tuple[Path, dict[str, str]]) -> None:
    project, environ = workdir
    spec = project / "aifo.yaml"
    spec.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        resolve(spec, environ=environ)
    except SpecError as error:
        assert error.issues
        for issue in error.issues:
            assert issue.location is not None, str(issue)
            assert issue.location.line >= 1 and issue.location.col >= 1


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "dupline", "swapline"]))
        if action == "insert":
            text = text[:pos] + draw(st.sampled_from(TOKENS)) + text[pos:]
        elif action == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 20)) :]
        else:
            lines = text.splitlines(keepends=True)
            if len(lines) > 1:
                i = draw(st.integers(0, len(lines) - 2))
                if action == "dupline":
                    lines.insert(i, lines[i])
                else:
                    lines[i], lines[i + 1] = lines[i + 1], lines[i]
                text = "".join(lines)
    return text


@given(mutated())
@SETTINGS
def test_mutated_specs_never_crash(workdir: tuple[Path, dict[str, str]], text: str) -> None:
    _outcome(text, workdir)


@given(st.lists(st.sampled_from(TOKENS + list("abc019 _.-/")), max_size=40).map("".join))
@SETTINGS
def test_random_text_never_crashes(workdir: tuple[Path, dict[str, str]], text: str) -> None:
    _outcome(text, workdir)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 70000) | st.floats(allow_nan=False)
    | st.sampled_from(["", "a", "/abs", "no", "8080:80", "64m", "5s", "ALL", "sandbox", "x y"]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["image", "env", "value", "secret", "source", "target",
                                       "networks", "a", "build", "context", "tmpfs", "from_file"]),
                      children, max_size=3),
    max_leaves=12,
)  # fmt: skip


def _paths(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*path, i))
    return out


@st.composite
def structurally_mutated(draw: st.DrawFn) -> Any:
    data = yaml.safe_load(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from(_paths(data)))
        if not target:
            continue
        parent = data
        for part in target[:-1]:
            parent = parent[part]
        if draw(st.booleans()) or not isinstance(parent, dict):
            parent[target[-1]] = draw(JSONISH)
        else:
            del parent[target[-1]]
            parent[draw(st.sampled_from(["imgae", "extra", "env", "ports"]))] = draw(JSONISH)
    return data


@given(structurally_mutated())
@SETTINGS
def test_fast_check_agrees_with_jsonschema_and_resolve_never_crashes(
    workdir: tuple[Path, dict[str, str]], data: Any
) -> None:
    quick = quick_check()
    assert quick is not None
    assert quick(data) == validator().is_valid(data)
    _outcome(yaml.safe_dump(data, sort_keys=False), workdir)
