"""aifo.engine.build: streamed builds. The output parser is pure (table-driven); the failure
path, the step reports and `--force-rm` run against the real engine (legacy builder)."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

from aifo.engine.api import BuildStep
from aifo.engine.build import MAX_STEP_LINES, BuildLog
from aifo.engine.client import DockerEngine
from aifo.errors import BuildFailed, EngineError
from aifo.model import Build

LEGACY = """\
Sending build context to Docker daemon  2.048kB
Step 1/3 : FROM aifo-test/busybox:latest
 ---> 0123456789ab
Step 2/3 : RUN echo fine
 ---> Running in 1111
fine
Removing intermediate container 1111
 ---> 2222
Step 3/3 : RUN echo token=s3cret-value; echo broken >&2; exit 7
 ---> Running in 3333
token=s3cret-value
\x1b[91mbroken
\x1b[0mThe command '/bin/sh -c echo token=s3cret-value; echo broken >&2; exit 7' returned \
a non-zero code: 7
"""

BUILDKIT = """\
#5 [1/2] FROM docker.io/library/busybox
#6 [2/2] RUN false
#6 ERROR: process "/bin/sh -c false" did not complete successfully: exit code: 1
"""


def feed(text: str) -> tuple[BuildLog, list[BuildStep]]:
    log = BuildLog()
    steps = [s for line in text.splitlines(keepends=True) if (s := log.feed(line))]
    return log, steps


def test_legacy_steps_are_reported_in_order() -> None:
    _, steps = feed(LEGACY)
    assert [(s.number, s.total) for s in steps] == [(1, 3), (2, 3), (3, 3)]
    assert steps[1].instruction == "RUN echo fine"


def test_buildkit_steps_and_exit_code() -> None:
    log, steps = feed(BUILDKIT)
    assert [(s.number, s.total, s.instruction) for s in steps] == [
        (1, 2, "FROM docker.io/library/busybox"),
        (2, 2, "RUN false"),
    ]
    assert log.exit_code() == 1


def test_the_failure_names_the_step_its_exit_code_and_its_whole_output_masked() -> None:
    log, _ = feed(LEGACY)
    error = log.failure("img:1", 1, redact=["s3cret-value"])
    assert isinstance(error, BuildFailed)
    assert error.step == 3 and error.step_exit_code == 7
    text = str(error)
    assert text.startswith("build image img:1: step 3/3 `RUN echo token=*")
    assert "failed (exit code 7):\n" in text
    assert "  broken" in text and "  token=***" in text
    assert "s3cret-value" not in text
    assert "fine" not in text  # an earlier step's output is not the failing step's
    assert "Running in" not in text  # the builder's own chatter is dropped


def test_a_failure_before_any_step_is_left_to_the_engine_error_rules() -> None:
    log, _ = feed('unable to prepare context: path "/nope" not found\n')
    assert log.failure("img:1", 1, redact=()) is None


def test_a_huge_step_output_is_kept_bounded_and_says_so() -> None:
    log, _ = feed("Step 1/1 : RUN yes\n" + "y\n" * (MAX_STEP_LINES + 50))
    error = log.failure("img:1", 1, redact=())
    assert error is not None
    assert "(50 earlier lines of this step not kept)" in str(error)
    assert str(error).count("\n  y") == MAX_STEP_LINES


def _containers_running(token: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if token in line]


@pytest.mark.docker
def test_a_failed_build_raises_the_step_output_and_leaves_no_container(
    session_name: str, tmp_path: Path, busybox_image: str
) -> None:
    token = secrets.token_hex(6)
    (tmp_path / "Dockerfile").write_text(
        f"FROM {busybox_image}\nRUN echo ok-{token}\n"
        f"RUN echo out-{token}; echo err-{token} >&2; exit 3\n"
    )
    ref = f"aifo-{session_name}-fail:1"
    steps: list[BuildStep] = []
    with pytest.raises(BuildFailed) as caught:
        DockerEngine().build_image(
            ref, Build(context=str(tmp_path)), labels={}, on_step=steps.append
        )
    assert [(s.number, s.total) for s in steps] == [(1, 3), (2, 3), (3, 3)]
    text = str(caught.value)
    assert f"step 3/3 `RUN echo out-{token}" in text and "(exit code 3)" in text
    assert f"  out-{token}" in text and f"  err-{token}" in text
    assert caught.value.step_exit_code == 3
    assert _containers_running(token) == []  # --force-rm: the failed step's container is gone


@pytest.mark.docker
def test_a_missing_context_is_an_engine_error_not_a_crash(
    session_name: str, tmp_path: Path
) -> None:
    with pytest.raises(EngineError, match="build image"):
        DockerEngine().build_image(
            f"aifo-{session_name}-x:1", Build(context=str(tmp_path / "nope")), labels={}
        )
