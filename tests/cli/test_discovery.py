"""Which spec a command works on: FILE, a folder, `-f`, the nearest aifo.yaml; `--session`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aifo.cli import main
from aifo.discovery import check_session, find_spec, looks_like_spec, split_target
from aifo.errors import UsageError

SPEC = "version: 1\nsession: disco\nnetworks:\n  sandbox: {internal: true}\n"


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as done:
        main(argv)
    code = done.value.code
    return code if isinstance(code, int) else 0


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / "a" / "b").mkdir(parents=True)
    (root / "aifo.yaml").write_text(SPEC, encoding="utf-8")
    monkeypatch.chdir(root / "a" / "b")
    monkeypatch.setenv("AIFO_STATE_DIR", str(tmp_path.parent / f"{tmp_path.name}-state"))
    return root


def test_find_spec_walks_up_to_the_nearest(project: Path) -> None:
    assert find_spec().resolve() == project / "aifo.yaml"
    (project / "a" / "aifo.yaml").write_text(SPEC, encoding="utf-8")
    assert find_spec().resolve() == project / "a" / "aifo.yaml"


def test_find_spec_folder_and_file(project: Path) -> None:
    assert find_spec(str(project)) == project / "aifo.yaml"
    assert find_spec("x.yaml") == Path("x.yaml")  # missing: the spec stage reports it, located
    with pytest.raises(UsageError, match="a folder without aifo.yaml"):
        find_spec(str(project / "a"))


def test_find_spec_none_found(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no aifo.yaml in") as info:
        find_spec(cwd=tmp_path)
    assert info.value.hint and "aifo init" in info.value.hint


def test_split_target_keeps_the_file_first_form(project: Path) -> None:
    assert split_target(["aifo.yaml", "codex", "ls"], file_given=False) == (
        "aifo.yaml",
        "codex",
        ("ls",),
    )
    assert split_target(["codex", "ls"], file_given=False) == (None, "codex", ("ls",))
    assert split_target(["x.yaml", "codex"], file_given=True) == (None, "x.yaml", ("codex",))
    assert split_target([str(project)], file_given=False, needs_name=False) == (
        str(project),
        None,
        (),
    )
    # a folder with an aifo.yaml named like the container, followed by `--`: still the container
    assert split_target([str(project), "--", "id"], file_given=False)[1] == str(project)
    with pytest.raises(UsageError, match="missing the container NAME"):
        split_target(["aifo.yaml"], file_given=False)
    assert looks_like_spec("x.yml") and not looks_like_spec("codex")


@pytest.mark.parametrize("bad", ["Upper", "-x", "a_b", "x" * 41, ""])
def test_session_names_are_checked(bad: str) -> None:
    with pytest.raises(UsageError, match="not a session name"):
        check_session(bad)


def test_validate_config_graph_find_the_spec_from_a_subfolder(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["validate"]) == 0
    assert "aifo.yaml: ok" in capsys.readouterr().out
    assert _run(["config", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["session"] == "disco"
    assert _run(["graph", "-o", "json"]) == 0
    assert "network/sandbox" in capsys.readouterr().out


def test_session_override_before_or_after_the_subcommand(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["--session", "disco-2", "config", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["session"] == "disco-2"
    assert _run(["config", "--session", "disco-3", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["session"] == "disco-3"
    assert _run(["graph", "--session", "disco-4", "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["session"] == "disco-4"


def test_global_file_option_takes_a_file_or_a_folder(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _run(["-f", str(project), "validate"]) == 0
    assert _run(["--file", str(project / "aifo.yaml"), "config"]) == 0
    assert _run(["validate", str(project)]) == 0  # a folder argument
    capsys.readouterr()
    assert _run(["-f", str(project), "validate", "other.yaml"]) == 2
    assert "two specs given" in capsys.readouterr().err


def test_no_spec_found_is_exit_2_for_every_spec_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIFO_STATE_DIR", str(tmp_path.parent / f"{tmp_path.name}-state"))
    for command in ("validate", "config", "graph", "plan", "apply", "status", "destroy"):
        assert _run([command]) == 2, command
        assert "no aifo.yaml in" in capsys.readouterr().err


def test_a_removed_current_folder_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    monkeypatch.setenv("AIFO_STATE_DIR", str(tmp_path.parent / f"{tmp_path.name}-state"))
    gone.rmdir()
    spec = str(tmp_path / "elsewhere.yaml")  # an absolute spec path needs the folder too
    for argv in (["status"], ["plan"], ["exec", "web", "--", "true"], ["-f", spec, "validate"]):
        assert _run(argv) == 2, argv
        err = capsys.readouterr().err
        assert "the current folder no longer exists" in err and "internal error" not in err
    assert _run(["--version"]) == 0  # what needs no folder still works
