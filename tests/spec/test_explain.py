"""`aifo config --explain`: each leaf shows the FILE:LINE that set it, through merges."""

from __future__ import annotations

import pytest

from aifo.sessionspec.render import explain, scalar

from .conftest import Project

SPEC = """\
version: 1
session: demo
extends: [base]
agents:
  codex:
    env:
      RUST_LOG: ${LOG:-info}
      WHO: {from_host: USER_NAME}
      TOKEN: {value: s3cret, secret: true}
    command: [sleep, "1"]
"""

BASE = """\
agents:
  codex:
    image: busybox:latest
    workspace: false
    mounts:
      - {tmpfs: /tmp, size: 64m}
    labels: {}
"""

EXPECTED = """\
version: 1                 # aifo.yaml:1
session: demo              # aifo.yaml:2
agents:
  codex:
    image: busybox:latest  # .aifo/profiles/base.yaml:3
    workspace: false       # .aifo/profiles/base.yaml:4
    mounts:
      - tmpfs: /tmp        # .aifo/profiles/base.yaml:6
        size: 64m          # .aifo/profiles/base.yaml:6
    labels: {}             # .aifo/profiles/base.yaml:7
    env:
      RUST_LOG: debug      # aifo.yaml:7 (from $LOG)
      WHO: alice           # aifo.yaml:8 (from $USER_NAME)
      TOKEN:
        value: '***'       # aifo.yaml:9
        secret: true       # aifo.yaml:9
    command:
      - sleep              # aifo.yaml:10
      - '1'                # aifo.yaml:10
"""


def test_explain_points_each_leaf_at_its_file_and_line(project: Project) -> None:
    project.write("aifo.yaml", SPEC)
    project.write(".aifo/profiles/base.yaml", BASE)
    spec = project.resolve(LOG="debug", USER_NAME="alice")
    assert explain(spec) == EXPECTED


def test_provenance_survives_merge_and_is_queryable(project: Project) -> None:
    project.write("aifo.yaml", SPEC)
    project.write(".aifo/profiles/base.yaml", BASE)
    spec = project.resolve(USER_NAME="alice")
    image = spec.location("agents", "codex", "image")
    assert image is not None and (image.file, image.line, image.col) == (
        ".aifo/profiles/base.yaml",
        3,
        12,
    )
    # a path without its own entry falls back to the nearest ancestor
    assert spec.location("agents", "codex", "nonexistent") == spec.location("agents", "codex")
    assert spec.notes[("agents", "codex", "env", "RUST_LOG")] == "from $LOG"
    assert project.dir / ".aifo/profiles/base.yaml" in spec.sources


def test_explain_with_builtin_profile_names_the_profile_file(project: Project) -> None:
    project.write("aifo.yaml", "version: 1\nsession: demo\nextends: [toolchain/busybox]\n")
    text = explain(project.resolve())
    assert "image: busybox:latest  # profiles/toolchain/busybox.yaml:" in text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        ("no", "'no'"),
        ("22:22", "'22:22'"),
        ("1.5", "'1.5'"),
        (".5", "'.5'"),
        ("", "''"),
        ("a: b", "'a: b'"),
        ("x #y", "'x #y'"),
        ("line\nbreak", '"line\\nbreak"'),
        (True, "true"),
        (None, "null"),
        (3, "3"),
        (1.5, "1.5"),
    ],
)
def test_scalars_are_quoted_only_when_yaml_would_misread_them(value: object, text: str) -> None:
    assert scalar(value) == text
