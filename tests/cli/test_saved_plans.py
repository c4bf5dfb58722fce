"""Saved plans: `aifo plan --out FILE` then `aifo apply FILE` applies exactly it, or refuses
(exit 1, nothing changed, saying what changed); `--dry-run` on apply and destroy."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.helpers import aifo, idle_spec

SECRET = "s3cr3t-value-1234"
DOTENV_SECRET = "dotenv-secret-5678"


def _spec(session: str, image: str, marker: str = "one") -> str:
    return idle_spec(session, image).replace(
        "    workspace: false\n",
        "    workspace: false\n"
        "    env:\n"
        f"      MODE: {marker}\n"
        "      TOKEN: {from_host: T_PLAN_TOKEN, secret: true}\n"
        "      OTHER: {from_host: T_DOTENV, secret: true, required: false}\n",
    )


def _containers(session: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=io.aifo.session={session}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return out.split()


@pytest.fixture
def project(
    session_name: str, state_dir: Path, tmp_path: Path, busybox_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:  # fmt: skip
    monkeypatch.setenv("T_PLAN_TOKEN", SECRET)
    (tmp_path / "aifo.yaml").write_text(_spec(session_name, busybox_image))
    (tmp_path / ".env").write_text(f"T_DOTENV={DOTENV_SECRET}\n")
    return tmp_path


@pytest.mark.docker
def test_apply_of_a_saved_plan_applies_it_and_the_file_holds_no_secret(
    project: Path, session_name: str
) -> None:
    planned = aifo("plan", "--out", "reviewed.plan", cwd=project)
    assert planned.returncode == 0, planned.stderr
    text = (project / "reviewed.plan").read_text()
    assert SECRET not in text and DOTENV_SECRET not in text
    assert json.loads(text)["format"] == "aifo-plan"
    assert _containers(session_name) == []  # planning changes nothing
    applied = aifo("apply", "reviewed.plan", cwd=project)  # no --yes needed: it was reviewed
    assert applied.returncode == 0, applied.stderr
    assert len(_containers(session_name)) == 1
    assert SECRET not in applied.stdout + applied.stderr


@pytest.mark.docker
def test_a_changed_spec_is_refused_naming_the_file(
    project: Path, session_name: str, busybox_image: str
) -> None:
    assert aifo("plan", "--out", "p.plan", cwd=project).returncode == 0
    (project / "aifo.yaml").write_text(_spec(session_name, busybox_image, marker="two"))
    refused = aifo("apply", "p.plan", cwd=project)
    assert refused.returncode == 1
    assert "no longer holds; nothing was changed" in refused.stderr
    assert f"input {project / 'aifo.yaml'}: changed" in refused.stderr
    assert "resource agent/hello: changed" in refused.stderr
    assert _containers(session_name) == []
    as_json = aifo("apply", "p.plan", "-o", "json", cwd=project)
    assert as_json.returncode == 1
    error = json.loads(as_json.stdout.splitlines()[-1])["error"]  # the stream's last line
    assert error["kind"] == "stale-plan" and "no longer holds" in error["message"]
    changed = [item["message"] for item in error["items"]]
    assert f"input {project / 'aifo.yaml'}: changed" in changed
    assert "resource agent/hello: changed" in changed


@pytest.mark.docker
def test_a_changed_env_file_is_refused(project: Path, session_name: str) -> None:
    assert aifo("plan", "--out", "p.plan", cwd=project).returncode == 0
    (project / ".env").write_text("T_DOTENV=another\n")
    refused = aifo("apply", "p.plan", cwd=project)
    assert refused.returncode == 1 and f"input {project / '.env'}: changed" in refused.stderr
    assert "another" not in refused.stderr
    assert _containers(session_name) == []


@pytest.mark.docker
def test_a_changed_engine_state_is_refused(project: Path, session_name: str) -> None:
    assert aifo("apply", "--yes", cwd=project).returncode == 0
    assert aifo("plan", "--out", "p.plan", cwd=project).returncode == 0
    [cid] = _containers(session_name)
    subprocess.run(["docker", "stop", "-t", "0", cid], capture_output=True, check=True)
    refused = aifo("apply", "p.plan", cwd=project)
    assert refused.returncode == 1
    assert f"engine: container aifo-{session_name}-hello: changed" in refused.stderr
    state = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Running}}", cid], capture_output=True, text=True
    )
    assert state.stdout.strip() == "false"  # nothing was done


@pytest.mark.docker
def test_a_saved_plan_fixes_profiles_and_session(project: Path) -> None:
    assert aifo("plan", "--out", "p.plan", cwd=project).returncode == 0
    proc = aifo("apply", "p.plan", "--session", "other", cwd=project)
    assert proc.returncode == 2 and "a saved plan fixes" in proc.stderr


@pytest.mark.docker
@pytest.mark.slow
def test_dry_runs_change_nothing(project: Path, session_name: str) -> None:
    dry = aifo("apply", "--dry-run", "-o", "json", cwd=project)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["changes"] is True
    assert _containers(session_name) == []
    assert aifo("apply", "--yes", cwd=project).returncode == 0
    listed = aifo("destroy", "--dry-run", cwd=project)
    assert listed.returncode == 0
    assert f"container aifo-{session_name}-hello" in listed.stdout
    assert f"network aifo-{session_name}-sandbox" in listed.stdout
    assert len(_containers(session_name)) == 1
    as_json = json.loads(aifo("destroy", "--dry-run", "-o", "json", cwd=project).stdout)
    assert as_json["would_remove"]["containers"] == [f"aifo-{session_name}-hello"]
    assert os.environ.get("T_PLAN_TOKEN") == SECRET


@pytest.mark.docker
def test_a_spec_made_invalid_since_the_plan_is_refused_with_exit_1(
    project: Path, session_name: str
) -> None:
    assert aifo("plan", "--out", "p.plan", cwd=project).returncode == 0
    (project / "aifo.yaml").write_text(f"version: 1\nsession: {session_name}\nagents: 3\n")
    refused = aifo("apply", "p.plan", cwd=project)
    assert refused.returncode == 1
    assert "the spec changed and is now invalid" in refused.stderr
    assert "aifo.yaml:3:" in refused.stderr
    assert _containers(session_name) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"format": "aifo-plan", "version": 99}', "format version 99"),
        ('{"format": "aifo-plan", "version": 1', "not a readable saved plan"),
    ],
)
def test_unreadable_or_foreign_plan_files_are_usage_errors(
    text: str, message: str, tmp_path: Path
) -> None:
    (tmp_path / "x.plan").write_text(text)
    proc = aifo("apply", "x.plan", cwd=tmp_path)
    assert proc.returncode == 2 and message in proc.stderr
