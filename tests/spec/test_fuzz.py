"""Bad input never produces a traceback: random and mutated YAML either resolves or raises a
SpecError whose every issue is located. The fast schema check agrees with jsonschema.

The hostile classes of issue 13 grow it: huge and retyped numbers, overflowing sizes and
durations, odd host paths on every route (FIFOs, devices, sockets' folders, /proc/<pid>/root,
over-long names), flag-like images and label keys, privilege settings, with a secret sentinel
planted in every spec that no message may show. `AIFO_FUZZ_EXAMPLES` sets the case count; the
long run (10,000 hostile cases, with a per-case time limit) is `python bench/bench_fuzz.py`."""

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
from aifo.sessionspec import resolve
from aifo.sessionspec.schema import quick_check, validator

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
    "session: s", "\x00", "9" * 4400, "0x1F", "3.10", "0755", "+1", ".inf", "1_000", "--privileged",
    "source: /proc/1/root", "source: /var/run/", "from_file: /dev/zero", "user: root",
    "cap_add: [SYS_ADMIN]", "a=b: c", "9" * 40 + "g",
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


def _outcome(text: str, workdir: tuple[Path, dict[str, str]], secret: str | None = None) -> None:
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
            if secret is not None:
                assert secret not in str(issue), str(issue)


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


# -- hostile specs (issue 13) ---------------------------------------------------------------------
SECRET = "2031-07-19"  # a YAML 1.1 date: the typing errors must not echo it either
PATHS = [
    "/var/run", "/var/run/", "/run", "/run/docker.sock", "/", "/etc", "/etc/shadow", "/dev/zero",
    "/proc/1/root", "/proc/self/root/etc", "/proc/1/root/", "~", "~/.aws", "~/.ssh", ".", "..",
    "./fifo", "./dir", "./file", "./missing", "/tmp/" + "a" * 300, "/" + "/".join(["b" * 250] * 20),
    "x\u0000y", "./link-to-run", "../../../../etc",
]  # fmt: skip
NUMBERS = [
    "1", "0", "-1", "3.10", "0755", "0x1F", "1_000", "+1", ".inf", "-.inf", ".nan", "1e3",
    "9" * 4301, "0x" + "f" * 4000, "99999999999999999999999", "12:30:45", "2024-01-01",
]  # fmt: skip
SIZES = ["64m", "9" * 40 + "g", "99999999999t", "1.5g", "0", "9" * 30, "1" + "0" * 25 + "k"]
DURATIONS = ["5s", "9" * 400 + "h", "1" + "0" * 30, "0.001ms", "99999999999h", "1e400"]
IMAGES = ["busybox", "--privileged", "-v/:/x", "a b", "Busybox", "rust:{version}", "x@sha256:1",
          "localhost:5000/a/b:c", "a" * 2000]  # fmt: skip
LABEL_KEYS = ["a", "a=b", "a b", "io.aifo.x", "\\t", "k" * 300]
USERS = ["host", "image", "0", "root", "0:0", "1000:0", "1000", "00", "root:root"]
SECURITY = ["{cap_add: [SYS_ADMIN]}", "{no_new_privileges: false}", "{read_only: false}",
            "{privileged: true}", "{cap_drop: [NET_RAW]}", "{}"]  # fmt: skip
ALLOW = ["[]", "[sensitive]", "[docker-socket]", "[root, capabilities]", "[writable-root]"]


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def hostile(draw: st.DrawFn) -> str:
    """An agent whose fields are drawn (each maybe) from the hostile classes; secrets planted."""

    def maybe(line: str) -> list[str]:
        return [line] if draw(st.booleans()) else []

    def one(options: list[str]) -> str:
        return draw(st.sampled_from(options))

    image = one(IMAGES)
    if draw(st.booleans()):
        image = one(["busybox", "busybox:1.36"])
    lines = ["version: 1", "session: fuzz", "agents:", "  a:", f"    image: {_q(image)}"]
    if draw(st.booleans()):
        lines[4] = f"    image: {{build: {{context: {_q(one(PATHS))}}}}}"
    if "{version}" in image:
        lines.append(f"    version: {_q(one(['1.82', ' --privileged', 'x y']))}")
    lines += maybe("    workspace: false")
    lines += maybe(f"    user: {_q(one(USERS))}")
    lines += maybe(f"    security: {one(SECURITY)}")
    lines += maybe(f"    allow: {one(ALLOW)}")
    lines.append("    env:")
    secret = one([SECRET, f'"{SECRET}"'])  # unquoted, it is also a YAML 1.1 date
    lines.append(f"      S: {{value: {secret}, secret: true}}")
    lines.append(f"      D: {{from_host: NOPE, secret: true, default: {one([SECRET, secret])}}}")
    lines += maybe(f"      N: {one(NUMBERS)}")
    lines += maybe(f"      F: {{from_file: {_q(one(PATHS))}}}")
    lines += maybe(f"    labels: {{{_q(one(LABEL_KEYS))}: {secret}}}")
    lines += maybe(f"    resources: {{memory: {one(SIZES)}, pids: {one(NUMBERS)}}}")
    lines += maybe(f"    readiness_timeout: {one(DURATIONS)}")
    mounts = draw(st.lists(st.sampled_from(PATHS), max_size=3))
    lines.append("    mounts:")
    lines += [
        f"      - {{source: {_q(m)}, target: /m{i}, create: true}}" for i, m in enumerate(mounts)
    ]
    lines += maybe(f"      - {{tmpfs: /t, size: {one(SIZES)}}}")
    if lines[-1] == "    mounts:":
        lines.pop()
    if draw(st.booleans()):
        lines.insert(2, f"workspace: {{path: {_q(one(PATHS))}}}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def hostile_workdir(workdir: tuple[Path, dict[str, str]]) -> tuple[Path, dict[str, str]]:
    """The fuzz project with a FIFO, a folder, a file and a symlink to /run in it."""
    project, environ = workdir
    if not (project / "fifo").exists():
        os.mkfifo(project / "fifo")
        (project / "dir").mkdir()
        (project / "file").write_text("x", encoding="utf-8")
        (project / "link-to-run").symlink_to("/run")
    return project, environ


@given(hostile())
@SETTINGS
def test_hostile_specs_end_in_located_errors_without_secrets(
    hostile_workdir: tuple[Path, dict[str, str]], text: str
) -> None:
    _outcome(text, hostile_workdir, secret=SECRET)
