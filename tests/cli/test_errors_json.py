"""One error shape for machines (`-o json`), one message for an unreachable engine, Terraform's
`plan --detailed-exitcode`, and the command line's own mistakes (a second -f, -f after the
subcommand, a misspelt command): real `aifo` processes (docs/cli.md, "Errors as JSON")."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aifo import errors
from aifo.errors import AifoError
from tests.cli.helpers import aifo, idle_spec

SHAPE = {"kind", "message", "hint", "location", "items", "exit_code"}
ITEM = {"message", "file", "line", "col", "path", "hint"}
DOWN = "unix:///nonexistent/aifo-test/docker.sock"


def _error(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The one JSON object on stdout (nothing else there), its `error` checked for shape."""
    payload = json.loads(done.stdout)
    error: dict[str, Any] = payload["error"]
    assert set(error) == SHAPE, error
    assert all(set(item) == ITEM for item in error["items"]), error["items"]
    assert error["exit_code"] == done.returncode
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", error["kind"]), error["kind"]
    return error


def _aifo_env(*argv: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aifo", *argv],
        capture_output=True, text=True, timeout=120, cwd=cwd, stdin=subprocess.DEVNULL,
        env={**os.environ, **env}, check=False,
    )  # fmt: skip


def test_every_error_class_has_its_own_stable_kind() -> None:
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, AifoError)]
    kinds = {c.__name__: c.__dict__.get("kind") for c in classes}
    assert [name for name, kind in kinds.items() if kind is None] == []
    assert len(set(kinds.values())) == len(kinds)  # one word per class
    for name, kind in kinds.items():
        assert isinstance(kind, str) and re.fullmatch(r"[a-z]+(-[a-z]+)*", kind), name


def test_an_invalid_spec_is_one_located_object(tmp_path: Path, state_dir: Path) -> None:
    (tmp_path / "aifo.yaml").write_text(
        "version: 1\nsession: Bad_Name\nagents:\n  a: {imagee: x}\n"
    )
    for argv in (("plan", "-o", "json"), ("config", "-o", "json"), ("apply", "-o", "json")):
        done = aifo(*argv, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        error = _error(done)
        assert error["kind"] == "invalid-spec"
        assert error["location"] == {"file": "aifo.yaml", "line": 2, "col": 10}
        paths = [(i["path"], i["line"]) for i in error["items"]]
        assert ("session", 2) in paths and ("agents.a.imagee", 4) in paths
        assert "did you mean 'image'?" in [i["hint"] for i in error["items"]]
    report = json.loads(aifo("validate", "-o", "json", cwd=tmp_path).stdout)
    assert report["files"][0]["valid"] is False
    assert report["error"]["kind"] == "invalid-spec" and len(report["error"]["items"]) >= 2


def test_usage_errors_share_the_shape_and_guide(tmp_path: Path, state_dir: Path) -> None:
    bogus = aifo("plan", "-o", "json", "--bogus", cwd=tmp_path)
    assert bogus.returncode == 2 and _error(bogus)["kind"] == "usage"
    misspelt = aifo("plna", "-o", "json", cwd=tmp_path)
    error = _error(misspelt)
    assert (error["kind"], error["hint"]) == ("usage", "did you mean 'plan'?")
    assert "did you mean 'plan'?" in misspelt.stderr
    late = aifo("plan", "-f", "x.yaml", cwd=tmp_path)
    assert late.returncode == 2
    assert "-f goes before the subcommand: `aifo -f FILE COMMAND" in late.stderr


def test_repeated_spec_files_merge_in_order_as_compose_does(
    tmp_path: Path, state_dir: Path
) -> None:
    (tmp_path / "base.yaml").write_text(
        idle_spec("layers").replace(
            "    workspace: false\n",
            "    workspace: false\n    env:\n      MODE: base\n      KEEP: kept\n",
        )
    )
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "over.yaml").write_text("agents:\n  hello:\n    env:\n      MODE: over\n")
    explained = aifo("-f", "base.yaml", "-f", "sub/over.yaml", "config", "--explain", cwd=tmp_path)
    assert explained.returncode == 0, explained.stderr
    lines = {
        line.split("#")[0].strip(): line.split("#")[-1].strip()
        for line in explained.stdout.splitlines()
    }
    assert lines["MODE: over"] == "sub/over.yaml:4"  # the later file wins, and says so
    assert lines["KEEP: kept"] == "base.yaml:14"
    assert lines["session: layers"] == "base.yaml:2"
    # reversed: the base's value wins
    flipped = aifo("-f", "sub/over.yaml", "-f", "base.yaml", "config", "-o", "json", cwd=tmp_path)
    assert json.loads(flipped.stdout)["agents"]["hello"]["env"]["MODE"] == "base"
    # an error in an earlier file points into that file
    (tmp_path / "bad.yaml").write_text("agents:\n  hello:\n    envv: {}\n")
    bad = aifo("-f", "base.yaml", "-f", "bad.yaml", "plan", "-o", "json", cwd=tmp_path)
    assert bad.returncode == 2
    assert _error(bad)["location"] == {"file": "bad.yaml", "line": 3, "col": 5}
    bad = aifo("-f", "bad.yaml", "-f", "base.yaml", "plan", "-o", "json", cwd=tmp_path)
    assert _error(bad)["location"] == {"file": "bad.yaml", "line": 3, "col": 5}
    same = aifo("-f", "base.yaml", "-f", "base.yaml", "validate", cwd=tmp_path)
    assert same.returncode == 0, same.stderr  # the same file twice is one spec


@pytest.mark.parametrize(
    "argv",
    [
        ("plan",),
        ("apply",),
        ("status",),
        ("destroy", "--yes"),
        ("ls",),
        ("exec", "hello", "--", "true"),
    ],
)
def test_an_unreachable_engine_is_one_message_from_every_command(
    tmp_path: Path, argv: tuple[str, ...]
) -> None:
    (tmp_path / "aifo.yaml").write_text(idle_spec("enginedown"))
    env = {"DOCKER_HOST": DOWN, "AIFO_STATE_DIR": str(tmp_path / "state")}
    done = _aifo_env(*argv, cwd=tmp_path, **env)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    why = "no such socket (is the daemon running?)"
    assert lines[-2] == f"error: cannot reach the Docker engine at {DOWN}: {why}"
    assert lines[-1].startswith("  hint: ") and "DOCKER_HOST" in lines[-1]
    assert "GET /" not in done.stderr and "scripts/" not in done.stderr
    if argv[0] in ("plan", "ls"):
        as_json = _aifo_env(*argv, "-o", "json", cwd=tmp_path, **env)
        error = _error(as_json)
        assert error["kind"] == "engine-unavailable"
        assert error["message"] == lines[-2].removeprefix("error: ")


def test_doctor_gives_the_same_message(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": DOWN, "AIFO_STATE_DIR": str(tmp_path / "state")}
    done = _aifo_env("doctor", "-o", "json", cwd=tmp_path, **env)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    [engine] = [c for c in report["checks"] if c["name"] == "engine"]
    assert report["error"]["kind"] == "checks-failed" and report["error"]["exit_code"] == 1
    assert report["error"]["items"][0]["message"] == f"engine: {engine['detail']}"
    assert engine["detail"] == (
        f"cannot reach the Docker engine at {DOWN}: no such socket (is the daemon running?)"
    )
    assert "DOCKER_HOST" in engine["fix"]


def test_the_engine_option_does_not_go_through_the_environment() -> None:
    code = (
        "import os, sys\n"
        "from aifo.cli import main\n"
        "from aifo.engine import choose\n"
        "try:\n"
        "    main(['--engine', 'podman', 'schema'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'AIFO_ENGINE' not in os.environ, 'leaked into the environment'\n"
        "assert choose.engine_name() == 'podman'\n"
        "try:\n"
        "    main(['schema'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert choose.engine_name() == 'docker', 'kept from the run before'\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "AIFO_ENGINE"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.docker
def test_detailed_exitcode_is_terraforms(
    tmp_path: Path, session_name: str, state_dir: Path, busybox_image: str
) -> None:
    spec = tmp_path / "aifo.yaml"
    spec.write_text(idle_spec(session_name, busybox_image))
    changes = aifo("plan", "--detailed-exitcode", cwd=tmp_path)
    assert changes.returncode == 2, changes.stderr  # changes pending
    applied = aifo("apply", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    none = aifo("plan", "--detailed-exitcode", cwd=tmp_path)
    assert none.returncode == 0, none.stderr
    spec.write_text("version: 1\nsession: Bad_Name\n")
    invalid = aifo("plan", "--detailed-exitcode", "-o", "json", cwd=tmp_path)
    assert invalid.returncode == 1  # an error, never read as "changes"
    assert _error(invalid)["kind"] == "invalid-spec"
    usage = aifo("plan", "--detailed-exitcode", "--bogus", cwd=tmp_path)
    assert usage.returncode == 1
    assert aifo("plan", cwd=tmp_path).returncode == 2  # without the flag: invalid is 2


def test_an_error_tied_to_one_place_reports_it() -> None:
    from aifo.errors import Conflict
    from aifo.location import Location
    from aifo.ui.failure import of_error

    located = Conflict("host port 127.0.0.1:8080 (tcp) is already in use")
    located.location = Location("aifo.yaml", 12, 9)  # type: ignore[attr-defined]
    error = of_error(located).to_dict()["error"]
    assert error["location"] == {"file": "aifo.yaml", "line": 12, "col": 9}
    assert of_error(Conflict("no place")).to_dict()["error"]["location"] is None
