"""`aifo validate`, `aifo config`, `aifo schema` through the real entry point: exit codes 0/2,
located errors, JSON shape, no tracebacks, and a light start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aifo.cli import main

from .conftest import Project

REPO = Path(__file__).resolve().parents[2]
GOOD = "version: 1\nsession: demo\nagents:\n  a: {image: busybox, workspace: false}\n"
BAD = "version: 1\nsession: demo\nagents:\n  a: {image: busybox, workspace: false, pul: never}\n"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    code = exited.value.code
    assert isinstance(code, int)
    assert "Traceback" not in out + err
    return code, out, err


def test_validate_ok_and_invalid_text(
    project: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(project.home))
    project.write("good.yaml", GOOD)
    project.write("bad.yaml", BAD)
    code, out, _ = run(["validate", "good.yaml"], capsys)
    assert (code, out) == (0, "good.yaml: ok\n")
    code, out, _ = run(["validate", "good.yaml", "bad.yaml"], capsys)
    assert code == 2
    assert out.splitlines() == [
        "good.yaml: ok",
        "bad.yaml:4:41: agents.a.pul: unknown key 'pul'",
        "  hint: did you mean 'pull'?",
        "bad.yaml: invalid (1 error)",
    ]


def test_validate_json(
    project: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(project.home))
    project.write("good.yaml", GOOD)
    project.write("bad.yaml", BAD)
    code, out, _ = run(["validate", "good.yaml", "bad.yaml", "--output", "json"], capsys)
    assert code == 2
    report = json.loads(out)
    error = report.pop("error")  # the one error shape of every failing command
    assert error["kind"] == "invalid-spec" and error["exit_code"] == 2
    assert [(i["file"], i["line"], i["col"]) for i in error["items"]] == [("bad.yaml", 4, 41)]
    assert report == {
        "files": [
            {"file": "good.yaml", "valid": True, "errors": [], "warnings": []},
            {
                "file": "bad.yaml",
                "valid": False,
                "errors": [
                    {
                        "file": "bad.yaml",
                        "line": 4,
                        "col": 41,
                        "path": "agents.a.pul",
                        "message": "unknown key 'pul'",
                        "hint": "did you mean 'pull'?",
                    }
                ],
                "warnings": [],
            },
        ]
    }


def test_validate_missing_file_and_yaml_garbage(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["validate", "nope.yaml"], capsys)
    assert code == 2 and "nope.yaml: no such spec file" in out
    project.write("garbage.yaml", "\x00\x01: [")
    code, out, _ = run(["validate", "garbage.yaml"], capsys)
    assert code == 2 and out.startswith("garbage.yaml:1:1: ")


def test_validate_prints_warnings(
    project: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(project.home))
    project.write(
        "aifo.yaml",
        "version: 1\nsession: demo\nservices:\n  a:\n    image: x\n"
        "    mounts: [{source: /etc, target: /e, read_only: true, allow: sensitive}]\n",
    )
    code, out, _ = run(["validate"], capsys)
    assert code == 0
    assert out.splitlines() == [
        "warning: aifo.yaml:6:23: services.a.mounts[0].source: mount source /etc is sensitive: "
        "/etc is a host system folder (allowed by allow: sensitive)",
        "aifo.yaml: ok",
    ]


def test_config_outputs_and_errors(
    project: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(project.home))
    project.write("aifo.yaml", GOOD)
    code, out, _ = run(["config"], capsys)
    assert code == 0
    assert out == (
        "version: 1\nsession: demo\nagents:\n  a:\n    image: busybox\n    workspace: false\n"
    )
    code, out, _ = run(["config", "-o", "json"], capsys)
    assert json.loads(out)["agents"] == {"a": {"image": "busybox", "workspace": False}}
    code, out, _ = run(["config", "-o", "json", "--explain"], capsys)
    assert json.loads(out)["provenance"]["agents.a.image"] == "aifo.yaml:4:14"
    project.write("aifo.yaml", BAD)
    code, out, err = run(["config"], capsys)
    assert code == 2 and out == ""
    assert err.startswith("aifo.yaml:4:41: agents.a.pul: unknown key 'pul'")


def test_config_with_profile_option(
    project: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(project.home))
    project.write("aifo.yaml", "version: 1\nsession: demo\n")
    code, out, _ = run(["config", "--profile", "toolchain/busybox"], capsys)
    assert code == 0 and "busybox:" in out
    code, _, err = run(["config", "--profile", "toolchain/busybx"], capsys)
    assert code == 2 and "did you mean 'toolchain/busybox'?" in err


def test_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["schema"], capsys)
    assert code == 0
    assert json.loads(out)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_examples_validate(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    files = [str(REPO / "aifo.yaml.example"), *map(str, sorted(REPO.glob("examples/*/aifo.yaml")))]
    code, out, _ = run(["validate", *files], capsys)
    assert code == 0, out


def test_version_and_help_do_not_import_heavy_modules() -> None:
    probe = (
        "import sys\n"
        "from aifo.cli import main\n"
        "for args in (['--version'], ['--help'], ['validate', '--help']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = [m for m in ('jsonschema', 'yaml', 'aifo.sessionspec.load') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
