"""`aifo ls`, `aifo profiles`, `aifo init`, `aifo completion`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aifo.sessionspec import starter
from aifo.sessionspec.catalog import describe, profiles
from tests.cli.helpers import aifo, idle_spec, run


@pytest.mark.docker
@pytest.mark.slow
def test_ls_lists_sessions_with_counts_state_and_spec(
    session_name: str, state_dir: Path, tmp_path: Path, busybox_image: str
) -> None:
    spec = tmp_path / "aifo.yaml"
    spec.write_text(idle_spec(session_name, busybox_image))
    applied = aifo("apply", "--yes", cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    listed = aifo("ls", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    [mine] = [s for s in json.loads(listed.stdout)["sessions"] if s["session"] == session_name]
    assert mine == {
        "session": session_name,
        "containers": 1,
        "running": 1,
        "networks": 1,
        "volumes": 0,
        "state": "running",
        "spec": str(spec),
    }
    text = aifo("ls").stdout.splitlines()
    assert text[0].split()[:5] == ["SESSION", "RUNNING", "NETWORKS", "VOLUMES", "STATE"]
    assert any(line.split()[:2] == [session_name, "1/1"] for line in text)
    assert aifo("destroy", "--yes", cwd=tmp_path).returncode == 0
    after = json.loads(aifo("ls", "-o", "json").stdout)["sessions"]
    assert session_name not in {s["session"] for s in after}


def test_profiles_lists_the_catalog_with_descriptions_and_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    own = tmp_path / ".aifo" / "profiles" / "agent"
    own.mkdir(parents=True)
    (own / "codex.yaml").write_text("# Our Codex, pinned. More text.\nagents: {}\n")
    (tmp_path / "aifo.yaml").write_text("version: 1\nsession: p\n")
    monkeypatch.chdir(tmp_path)
    assert run(["profiles", "-o", "json"]) == 0
    found = {p["name"]: p for p in json.loads(capsys.readouterr().out)["profiles"]}
    assert found["toolchain/rust"]["source"] == "built-in"
    assert found["toolchain/rust"]["description"].startswith("the official Rust image")
    assert found["agent/codex"] | {"path": ""} == {
        "name": "agent/codex",
        "description": "Our Codex, pinned.",
        "source": "repository",
        "path": "",
        "shadows_builtin": True,
    }
    assert run(["profiles"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["PROFILE", "FROM", "DESCRIPTION"]
    assert all(len(line) <= 80 for line in lines)


def test_every_builtin_profile_has_a_description() -> None:
    assert all(p.description for p in profiles()), [p.name for p in profiles() if not p.description]


def test_describe_skips_the_modeline(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("# yaml-language-server: $schema=x\n# Does a thing\n# over two lines.\nx: 1\n")
    assert describe(path) == "Does a thing over two lines."


@pytest.mark.parametrize(
    ("files", "toolchains"),
    [
        ([], []),
        (["Cargo.toml"], ["rust"]),
        (["package.json", "pyproject.toml", "requirements.txt"], ["node", "python"]),
        (["go.mod", "CMakeLists.txt", "Makefile"], ["go", "c-cpp"]),
    ],
)
def test_init_detects_toolchains(files: list[str], toolchains: list[str], tmp_path: Path) -> None:
    for name in files:
        (tmp_path / name).write_text("")
    assert [t for t, _m in starter.detect(tmp_path)] == toolchains


@pytest.mark.parametrize("agent", [None, "codex"])
def test_init_writes_a_valid_spec_with_a_resolving_modeline(
    agent: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jsonschema
    import yaml

    folder = tmp_path / "My Repo"
    folder.mkdir()
    (folder / "Cargo.toml").write_text("")
    (folder / "go.mod").write_text("")
    monkeypatch.chdir(folder)
    assert run(["init", *(["--agent", agent] if agent else [])]) == 0
    text = (folder / "aifo.yaml").read_text()
    first = text.splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    schema_file = folder / first.split("$schema=", 1)[1]
    assert schema_file.is_file()  # the modeline resolves
    data = yaml.safe_load(text)
    assert data["session"] == "my-repo"
    assert "toolchain/rust" in data["extends"] and "toolchain/go" in data["extends"]
    assert ("agent/codex" in data["extends"]) == bool(agent)
    jsonschema.validate(data, json.loads(schema_file.read_text()))  # what the editor checks
    assert run(["validate"]) == 0  # what aifo checks


def test_init_refuses_to_overwrite_and_checks_the_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "aifo.yaml").write_text("mine\n")
    assert run(["init"]) == 2
    assert "never overwrites" in capsys.readouterr().err
    assert (tmp_path / "aifo.yaml").read_text() == "mine\n"
    (tmp_path / "aifo.yaml").unlink()
    assert run(["init", "--agent", "codx"]) == 2
    assert "did you mean 'codex'" in capsys.readouterr().err
    assert not (tmp_path / "aifo.yaml").exists()


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell: str) -> None:
    proc = aifo("completion", shell)
    assert proc.returncode == 0 and "_AIFO_COMPLETE" in proc.stdout


def _complete(words: str, cwd: Path) -> list[str]:
    import subprocess
    import sys

    env = {
        **os.environ,
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        "_AIFO_COMPLETE": "bash_complete",
    }
    out = subprocess.run(
        [sys.executable, "-m", "aifo"], env=env, cwd=cwd, capture_output=True, text=True
    ).stdout
    return [line.split(",", 1)[1] for line in out.splitlines() if "," in line]


def test_completion_of_containers_and_profiles(tmp_path: Path) -> None:
    (tmp_path / "aifo.yaml").write_text(idle_spec("comp"))
    assert _complete("aifo exec ", tmp_path) == ["hello"]
    assert _complete("aifo logs aifo.yaml h", tmp_path) == ["hello"]
    assert _complete("aifo exec hello ", tmp_path) == []  # CMD: not ours to complete
    assert "toolchain/rust" in _complete("aifo plan --profile toolchain/", tmp_path)
    assert _complete("aifo init --agent cod", tmp_path) == ["codex"]


def test_file_names_complete_where_a_file_goes(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "aifo.yaml").write_text(idle_spec("comp"))
    for words in ("aifo -f ", "aifo --file ", "aifo validate ", "aifo plan ", "aifo plan --out "):
        env = {
            **os.environ,
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split())),
            "_AIFO_COMPLETE": "bash_complete",
        }
        out = subprocess.run(
            [sys.executable, "-m", "aifo"], env=env, cwd=tmp_path, capture_output=True, text=True
        ).stdout
        # click's bash script turns a `file` item into the shell's own file-name completion
        assert out.splitlines()[:1] == ["file,"], (words, out)
    assert _complete("aifo -f aifo.yaml exec ", tmp_path) == ["hello"]  # -f still read
