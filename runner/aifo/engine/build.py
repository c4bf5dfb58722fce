"""Image builds through the docker CLI, streamed: each step is reported as it starts, a failure
carries the failing step's whole output and its exit code, and `--force-rm` (legacy builder)
leaves no intermediate container behind, failed or not.

Both builders' plain output is understood: the legacy builder's `Step 3/9 : RUN …` and BuildKit's
`#7 [3/9] RUN …` (`--progress=plain`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from aifo.engine.api import BuildStep, OnStep
from aifo.engine.run import Runner
from aifo.engine.translate import translate
from aifo.errors import BuildFailed
from aifo.host.cas import trust_dockerfile
from aifo.masking import mask_values
from aifo.model import LABEL_HOST_CA, Build

_LEGACY_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_BUILDKIT_STEP = re.compile(r"^#\d+ \[(?:[\w.-]+ )?(\d+)/(\d+)\] (.*)$")
_EXIT = re.compile(
    r"returned a non-zero code: (\d+)|did not complete successfully: exit code: (\d+)"
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # the legacy builder colours a step's stderr
_LEGACY_NOISE = re.compile(r"^( ---> |Removing intermediate container |Sending build context)")
MAX_STEP_LINES = 400  # a failing step's output kept in memory (its tail): bounded however long


class BuildLog:
    """Reads a build's output line by line: the current step and that step's last lines."""

    def __init__(self) -> None:
        self.step: BuildStep | None = None
        self.lines: deque[str] = deque(maxlen=MAX_STEP_LINES)
        self.dropped = 0
        self.head: deque[str] = deque(maxlen=MAX_STEP_LINES)  # output before any step

    def feed(self, raw: str) -> BuildStep | None:
        """Take one line; return the step it starts, if it starts one."""
        line = _ANSI.sub("", raw).rstrip("\r\n")
        match = _LEGACY_STEP.match(line) or _BUILDKIT_STEP.match(line)
        if match:
            step = BuildStep(int(match.group(1)), int(match.group(2)), match.group(3).strip())
            if step != self.step:
                self.step, self.dropped = step, 0
                self.lines.clear()
                return step
            return None
        target = self.lines if self.step else self.head
        if len(target) == target.maxlen:
            self.dropped += 1
        target.append(line)
        return None

    def exit_code(self) -> int | None:
        for line in reversed(self.lines):
            match = _EXIT.search(line)
            if match:
                return int(match.group(1) or match.group(2))
        return None

    def failure(self, ref: str, returncode: int, redact: Iterable[str]) -> BuildFailed | None:
        """The error for a failed build, or None when it failed before any step ran."""
        if self.step is None:
            return None
        code = self.exit_code()
        output = [ln for ln in self.lines if not _LEGACY_NOISE.match(ln)]
        text = "\n".join(f"  {ln}" for ln in output if ln.strip())
        if self.dropped:
            text = f"  … ({self.dropped} earlier lines of this step not kept)\n{text}"
        step = self.step
        how = f"exit code {code}" if code is not None else f"docker exited with {returncode}"
        message = f"build image {ref}: step {step.number}/{step.total} `{step.instruction}`"
        message += f" failed ({how})"
        if text:
            message += ":\n" + text
        return BuildFailed(
            mask_values(message, list(redact), min_len=3),
            step=step.number,
            step_exit_code=code,
        )


def stream_build(
    runner: Runner,
    args: Sequence[str],
    *,
    ref: str,
    env: dict[str, str],
    redact: Sequence[str],
    on_step: OnStep | None,
    timeout_s: float,
) -> None:
    """Run `docker build ARGS`, reporting steps; raise BuildFailed (or the translated engine
    error when the build failed before a step ran) on failure."""
    log = BuildLog()
    runner._count()
    try:
        proc = subprocess.Popen(
            [runner.docker, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env=runner.environ(env),
        )
    except OSError as exc:
        raise translate("build image", ref, 127, str(exc)) from exc
    timer = threading.Timer(timeout_s, proc.kill)
    timer.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            step = log.feed(line)
            if step is not None and on_step is not None:
                on_step(step)
        returncode = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:  # interrupted while reading: don't leave the build running
            proc.kill()
            proc.wait()
    if returncode == 0:
        return
    error = log.failure(ref, returncode, redact)
    if error is not None:
        raise error
    raise translate("build image", ref, returncode, "\n".join(log.head), redact=redact)


CA_REPOSITORY = "aifo-host-ca"  # FROM scratch + the bundle; shared by every session, never removed


@contextmanager
def trusted_dockerfile(runner: Runner, build: Build) -> Iterator[str | None]:
    """For a build with trust_host_cas: make sure the image holding the host's CA bundle exists,
    and yield the path of the build's Dockerfile rewritten to trust it (aifo.host.cas); else None.
    """
    if not build.ca_bundle:
        yield None
        return
    ca_ref = f"{CA_REPOSITORY}:{build.ca_bundle_hash[:12]}"
    with tempfile.TemporaryDirectory(prefix="aifo-ca-") as tmp:
        if not runner.call(["image", "inspect", ca_ref], op="inspect image", obj=ca_ref).ok:
            ctx = Path(tmp, "ca")
            ctx.mkdir()
            shutil.copyfile(build.ca_bundle, ctx / "ca-certificates.crt")
            (ctx / "Dockerfile").write_text("FROM scratch\nCOPY ca-certificates.crt /\n")
            runner.run(
                [
                    "build",
                    "--force-rm",
                    "-q",
                    "--label",
                    f"{LABEL_HOST_CA}=true",
                    "-t",
                    ca_ref,
                    str(ctx),
                ],
                op="build image",
                obj=ca_ref,
                env={"DOCKER_BUILDKIT": "0"},
            )
        source = Path(build.context, build.dockerfile or "Dockerfile")
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BuildFailed(
                f"build image: cannot read {source}: {exc}", step=0, step_exit_code=None
            ) from exc
        rewritten = Path(tmp, "Dockerfile")
        rewritten.write_text(trust_dockerfile(text, ca_ref), encoding="utf-8")
        yield str(rewritten)
