"""Secrets: the masking helper, and that secret values appear in no output or error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aifo.cli import cli
from aifo.errors import SpecError
from aifo.masking import MASK
from aifo.sessionspec.secrets import is_secret_entry, mask

from .conftest import Project


@pytest.mark.parametrize(
    ("entry", "secret"),
    [
        ({"value": "x", "secret": True}, True),
        ({"from_host": "X", "secret": True}, True),
        ({"from_file": "/t"}, True),
        ({"value": "x"}, False),
        ({"value": "x", "secret": False}, False),
        ({"from_host": "X"}, False),
        ("plain", False),
        (None, False),
    ],
)
def test_is_secret_entry(entry: object, secret: bool) -> None:
    assert is_secret_entry(entry) is secret


def test_mask_replaces_values_and_defaults_anywhere_and_copies() -> None:
    data: dict[str, Any] = {
        "agents": {
            "a": {
                "env": {
                    "A": {"value": "s3cret", "secret": True},
                    "B": {"from_host": "TOKEN", "secret": True, "default": "d3fault"},
                    "C": {"from_file": "/run/token"},
                    "D": "visible",
                    "E": {"value": "shown", "secret": False},
                }
            }
        },
        "plan": [{"env": {"X": {"value": "deep", "secret": True}}}],
    }
    masked = mask(data)
    env = masked["agents"]["a"]["env"]
    assert env["A"] == {"value": MASK, "secret": True}
    assert env["B"] == {"from_host": "TOKEN", "secret": True, "default": MASK}
    assert env["C"] == {"from_file": "/run/token"}
    assert env["D"] == "visible"
    assert env["E"] == {"value": "shown", "secret": False}
    assert masked["plan"][0]["env"]["X"]["value"] == MASK
    assert data["agents"]["a"]["env"]["A"]["value"] == "s3cret"  # input untouched


SPEC = """\
version: 1
session: demo
agents:
  codex:
    image: a
    workspace: false
    env:
      TOKEN: {value: "${TOKEN_VALUE}", secret: true}
      PLAIN: visible
"""


def test_config_masks_secrets_in_every_format(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    project.write("aifo.yaml", SPEC)
    monkeypatch.setenv("TOKEN_VALUE", "hunter2-secret")
    monkeypatch.setenv("HOME", str(project.home))
    runner = CliRunner()
    for args in ([], ["--explain"], ["-o", "json"], ["-o", "json", "--explain"]):
        result = runner.invoke(cli, ["config", "aifo.yaml", *args])
        assert result.exit_code == 0, result.output
        assert "hunter2-secret" not in result.output
        assert MASK in result.output
        assert "visible" in result.output
    data = json.loads(runner.invoke(cli, ["config", "aifo.yaml", "-o", "json"]).output)
    assert data["agents"]["codex"]["env"]["TOKEN"] == {"value": MASK, "secret": True}


@pytest.mark.parametrize(
    "entry",
    [
        '{value: "hunter2-secret", secret: true, extra: 1}',
        '{valeu: "hunter2-secret", secret: true}',
        '{value: {nested: "hunter2-secret"}, secret: true}',
        '{from_file: "hunter2-secret", secret: false}',
        '{value: "hunter2-secret", secret: "yes"}',
    ],
)
def test_errors_never_echo_secret_values(project: Project, entry: str) -> None:
    project.write(
        "aifo.yaml",
        f"version: 1\nsession: demo\nagents:\n  a:\n    image: a\n    env:\n      T: {entry}\n",
    )
    with pytest.raises(SpecError) as caught:
        project.resolve()
    assert "hunter2-secret" not in str(caught.value)
    assert caught.value.issues
