"""Hostile literals end in located errors (exit 2) in bounded time; user values never become
engine flags; YAML 1.1 never silently rewrites a value; secret values never reach a message
(issue 13). Each case failed on the main of before this change (a crash, a flag, a rewrite or a
leaked value)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aifo.errors import SpecError
from aifo.sessionspec import resolve

HEAD = "version: 1\nsession: demo\n"
AGENT = "agents:\n  a:\n    image: busybox\n    workspace: false\n"


def _errors(tmp_path: Path, body: str, environ: dict[str, str] | None = None) -> list[str]:
    spec = tmp_path / "aifo.yaml"
    spec.write_text(HEAD + body, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        resolve(spec, environ={"HOME": str(tmp_path), **(environ or {})})
    for issue in caught.value.issues:
        assert issue.location is not None and issue.location.line >= 1, str(issue)
    return [
        f"{i.path}: {i.message}" + (f" ({i.hint})" if i.hint else "") for i in caught.value.issues
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "    resources: {pids: " + "9" * 5000 + "}",
            "agents.a.resources.pids: a number written with 5000 characters is too long",
        ),
        (
            "    env: {N: " + "9" * 4301 + "}",
            "agents.a.env.N: a number written with 4301 characters is too long",
        ),
        ("    env: {N: 0x" + "f" * 4000 + "}", "agents.a.env.N: this number is too large"),
        (
            "    resources: {pids: 99999999}",
            "agents.a.resources.pids: 99999999 is greater than the maximum of 4194304",
        ),
        ("    resources: {memory: " + "9" * 40 + "g}", "is over 9223372036854775807 bytes"),
        ("    resources: {memory: 99999999999999999999}", "is over 9223372036854775807 bytes"),
        ("    readiness_timeout: " + "9" * 400 + "h", "is over 9223372036 seconds"),
        (
            "    healthcheck: {test: 'true', interval: 1" + "0" * 30 + "}",
            "is over 9223372036 seconds",
        ),
        ("    mounts: [{tmpfs: /t, size: " + "9" * 30 + "g}]", "is over 9223372036854775807 bytes"),
    ],
)
def test_huge_and_overflowing_literals_are_located_errors(
    tmp_path: Path, line: str, expected: str
) -> None:
    errors = _errors(tmp_path, AGENT + line + "\n")
    assert any(expected in e for e in errors), errors


@pytest.mark.parametrize(
    "image",
    ["--privileged", "-v/:/host", "busybox --privileged", "Busy:box", "a:b:c", "a@sha256:x"],
)
def test_image_references_are_validated_as_references(tmp_path: Path, image: str) -> None:
    errors = _errors(tmp_path, f"agents:\n  a:\n    image: '{image}'\n    workspace: false\n")
    assert len(errors) == 1 and "is not a valid image reference" in errors[0], errors


def test_a_version_cannot_smuggle_a_flag_into_the_image(tmp_path: Path) -> None:
    body = (
        "toolchains:\n  t: {image: 'rust:{version}', version: ' --privileged', workspace: false}\n"
    )
    errors = _errors(tmp_path, body)
    assert len(errors) == 1 and "is not a valid image reference" in errors[0]


REFERENCES = ["busybox", "busybox:latest", "rust:1.82-slim", "localhost:5000/team/x:1",
              "ghcr.io/a/b@sha256:" + "a" * 64, "rust:{version}-slim"]  # fmt: skip


@pytest.mark.parametrize("image", REFERENCES)
def test_real_references_pass(tmp_path: Path, image: str) -> None:
    spec = tmp_path / "aifo.yaml"
    body = f"toolchains:\n  t: {{image: '{image}', version: '1.82', workspace: false}}\n"
    spec.write_text(HEAD + body)
    resolve(spec, environ={"HOME": str(tmp_path / "home")})


@pytest.mark.parametrize("key", ["a=b", "a b", "a\tb", ""])
def test_label_keys_are_validated(tmp_path: Path, key: str) -> None:
    errors = _errors(tmp_path, AGENT + f'    labels: {{"{key}": v}}\n'.replace("\t", "\\t"))
    assert errors and "labels" in errors[0], errors


def test_build_arg_names_are_validated(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM scratch\n")
    body = "agents:\n  a:\n    workspace: false\n"
    body += "    image: {build: {context: ./ctx, args: {'A=x': v}}}\n"
    assert _errors(tmp_path, body)


@pytest.mark.parametrize(
    "written", ["3.10", "0755", "0x1F", "1_000", "+1", ".inf", "-0", "010", "1.50"]
)
def test_env_values_keep_their_source_text(tmp_path: Path, written: str) -> None:
    spec = tmp_path / "aifo.yaml"
    spec.write_text(HEAD + AGENT + f"    env: {{A: {written}, B: {{value: {written}}}}}\n")
    env = resolve(spec, environ={"HOME": str(tmp_path)}).data["agents"]["a"]["env"]
    assert env == {"A": written, "B": {"value": written}}


@pytest.mark.parametrize("written", ["3.10", "0755", "0x1F"])
def test_labels_and_commands_refuse_retyped_numbers_with_a_quoting_hint(
    tmp_path: Path, written: str
) -> None:
    errors = _errors(
        tmp_path, AGENT + f"    labels: {{v: {written}}}\n    command: [x, {written}]\n"
    )
    assert len(errors) == 2
    for error in errors:
        assert f"YAML 1.1 reads the unquoted {written} as the number" in error
        assert f'quote it: "{written}"' in error


SENTINELS = ["2031-07-19", "41:17:53", "4117"]


@pytest.mark.parametrize(
    "entry",
    [
        "{{value: {s}, secret: true}}",
        "{{from_host: NOPE_X, secret: true, default: {s}}}",
        "{{from_host: NOPE_X, secret: true, required: false, default: {s}}}",
        "{{value: [{s}], secret: true}}",
        "{{value: {s}, secret: yes}}",
        "{{value: {s}, secret: true, extra: 1}}",
        "{{from_host: NOPE_X, secret: true, default: {{x: {s}}}}}",
    ],
)
@pytest.mark.parametrize("sentinel", SENTINELS)
def test_no_secret_value_in_any_message(tmp_path: Path, entry: str, sentinel: str) -> None:
    """A sentinel planted as a secret (or would-be secret) value: every error path stays silent
    about it, including YAML 1.1 date and base-60 typing errors and their quoting hints."""
    spec = tmp_path / "aifo.yaml"
    body = HEAD + AGENT + "    env:\n      S: " + entry.format(s=sentinel) + "\n"
    body += "      T: {from_file: ./nope, secret: false}\n    labels: {l: " + sentinel + "}\n"
    spec.write_text(body, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "aifo", "validate", str(spec)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
        env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "internal error" not in out
    assert sentinel not in out.replace(str(tmp_path), ""), out
