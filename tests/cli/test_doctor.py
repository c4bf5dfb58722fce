"""`aifo doctor`: failures (exit 1) vs warnings (exit 0), each with its fix."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aifo.engine import doctor
from aifo.engine.api import EngineFacts
from tests.cli.helpers import aifo

GOOD = EngineFacts(
    server_version="26.1",
    api_version="1.45",
    os="Debian",
    storage_driver="overlay2",
    security_options=("name=seccomp,profile=default", "name=apparmor"),
    buildx=True,
    stand_in_images=3,
)


def _by_name(found: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {c.name: c for c in found}


def test_all_good_is_exit_0(tmp_path: Path) -> None:
    found = doctor.checks(GOOD, docker_cli=True, state=tmp_path, state_error=None)
    assert {c.status for c in found} <= {"ok", "info"}
    assert doctor.exit_code(found) == 0


@pytest.mark.parametrize(
    ("facts", "docker_cli", "state_error", "name", "status"),
    [
        (GOOD, False, None, "docker CLI", "failure"),
        (EngineFacts(error="cannot connect"), True, None, "engine", "failure"),
        (EngineFacts(**{**GOOD.__dict__, "internal_network": "no iptables"}), True, None,
         "internal networks", "failure"),
        (GOOD, True, "/x is not writable", "state folder", "failure"),
        (EngineFacts(**{**GOOD.__dict__, "buildx": False}), True, None, "builder", "warning"),
        (EngineFacts(**{**GOOD.__dict__, "security_options": ("name=seccomp",)}), True, None,
         "AppArmor", "warning"),
        (EngineFacts(**{**GOOD.__dict__, "stand_in_images": 0}), True, None, "offline images",
         "warning"),
        (EngineFacts(**{**GOOD.__dict__, "storage_driver": "vfs"}), True, None, "storage driver",
         "warning"),
    ],
)  # fmt: skip
def test_each_problem_has_its_status_and_fix(
    facts: EngineFacts,
    docker_cli: bool,
    state_error: str | None,
    name: str,
    status: str,
    tmp_path: Path,
) -> None:
    found = doctor.checks(facts, docker_cli=docker_cli, state=tmp_path, state_error=state_error)
    check = _by_name(found)[name]
    assert check.status == status
    assert check.fix
    assert doctor.exit_code(found) == (1 if status == "failure" else 0)


def test_rootless_is_reported(tmp_path: Path) -> None:
    facts = EngineFacts(**{**GOOD.__dict__, "security_options": ("name=rootless",)})
    found = _by_name(doctor.checks(facts, docker_cli=True, state=tmp_path, state_error=None))
    assert found["rootless"].detail == "yes"


def test_writable_creates_nothing(tmp_path: Path) -> None:
    assert doctor.writable(tmp_path / "a" / "b") is None
    assert not (tmp_path / "a").exists()
    (tmp_path / "file").write_text("x")
    assert doctor.writable(tmp_path / "file" / "sub") == f"{tmp_path / 'file'} is not a folder"


@pytest.mark.docker
def test_doctor_on_the_real_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIFO_STATE_DIR", str(tmp_path.parent / f"{tmp_path.name}-state"))
    proc = aifo("doctor", "-o", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    names = {c["name"]: c for c in report["checks"]}
    assert names["engine"]["status"] == "ok" and "API" in names["engine"]["detail"]
    assert names["internal networks"]["status"] == "ok"
    assert not (tmp_path.parent / f"{tmp_path.name}-state").exists()  # doctor writes no state
    text = aifo("doctor")
    assert text.returncode == 0 and text.stdout.rstrip().splitlines()[-1].startswith("Checked ")
    assert all(len(line) <= 80 for line in text.stdout.splitlines())


def test_doctor_without_docker_fails_with_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import sys

    monkeypatch.setenv("AIFO_STATE_DIR", str(tmp_path.parent / f"{tmp_path.name}-state"))
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + str(tmp_path))
    proc = aifo("doctor")
    assert proc.returncode == 1
    assert "FAIL docker CLI" in proc.stdout and "fix: install" in proc.stdout


def test_a_state_folder_aifo_would_refuse_is_a_failure_with_the_fix(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir(mode=0o700)
    assert doctor.writable(folder) is None
    folder.chmod(0o777)
    assert f"fix: chmod go-w {folder}" in str(doctor.writable(folder))
    folder.chmod(0o700)
    os.chown(folder, 4242, 4242)
    assert "belongs to uid 4242" in str(doctor.writable(folder))
