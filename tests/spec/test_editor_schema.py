"""What an editor sees (yaml-language-server, check-jsonschema): each shipped file checked
alone against the schema its modeline names, with jsonschema directly: no false errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from aifo.errors import SpecError
from aifo.sessionspec import resolve
from aifo.sessionspec.catalog import builtin_names

ROOT = Path(__file__).resolve().parents[2]
MODELINE = "# yaml-language-server: $schema="
SPECS = sorted([*ROOT.glob("examples/*/aifo.yaml"), ROOT / "aifo.yaml.example"])
PROFILES = sorted(ROOT.glob("profiles/**/*.yaml"))


def _schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "schema" / name).read_text(encoding="utf-8"))
    return loaded


def _modeline_target(path: Path) -> Path:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(MODELINE), f"{path}: no yaml-language-server modeline"
    target = first[len(MODELINE) :].strip()
    assert "://" not in target, f"{path}: the modeline must be a relative path that resolves"
    return (path.parent / target).resolve()


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_spec_passes_the_schema_its_modeline_names(path: Path) -> None:
    target = _modeline_target(path)
    assert target == ROOT / "schema" / "session.schema.json"
    schema = json.loads(target.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(path.read_text()))


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_profile_passes_the_profile_schema(path: Path) -> None:
    target = _modeline_target(path)
    assert target == ROOT / "schema" / "profile.schema.json"
    schema = json.loads(target.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(path.read_text()) or {})


def test_the_profile_schema_is_the_session_schema_with_every_key_optional() -> None:
    session, profile = _schema("session.schema.json"), _schema("profile.schema.json")
    assert "required" not in profile
    strip = ("$id", "title", "description", "required")
    assert {k: v for k, v in profile.items() if k not in strip} == {
        k: v for k, v in session.items() if k not in strip
    }, "regenerate schema/profile.schema.json from schema/session.schema.json"


def test_extends_completes_from_the_catalog() -> None:
    extends = _schema("session.schema.json")["properties"]["extends"]
    assert extends["examples"] == builtin_names()
    assert extends["items"]["examples"] == builtin_names()


def test_image_supplied_by_a_profile_is_no_schema_error_but_a_missing_one_is_located(
    tmp_path: Path,
) -> None:
    spec = "version: 1\nsession: s\nextends: [toolchain/busybox]\ntoolchains:\n  busybox: {}\n"
    (tmp_path / "ok.yaml").write_text(spec)
    jsonschema.validate(yaml.safe_load(spec), _schema("session.schema.json"))
    resolve(tmp_path / "ok.yaml")
    (tmp_path / "bad.yaml").write_text("version: 1\nsession: s\nagents:\n  a:\n    user: '1'\n")
    with pytest.raises(SpecError) as info:
        resolve(tmp_path / "bad.yaml")
    [issue] = info.value.issues
    assert issue.location is not None and (issue.location.line, issue.location.col) == (4, 3)
    assert issue.path == "agents.a" and "no image" in issue.message
