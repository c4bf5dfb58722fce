"""`CliCore`: what every part of the `docker` CLI adapter (`aifo.engine.client`) stands on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aifo.engine.run import Result, Runner
from aifo.engine.translate import is_not_found, lines_of, translate


def check_inspect(result: Result, op: str) -> None:
    """Inspect of several refs: missing ones are fine (partial output), anything else raises."""
    if result.ok:
        return
    other = [line for line in lines_of(result.stderr) if not is_not_found(line)]
    if other or not lines_of(result.stderr):
        raise translate(op, "", result.returncode, "\n".join(other) or result.stderr)


class CliCore:
    """The runner and its call count; the mixins of `DockerEngine` build on it."""

    def __init__(self, docker: str = "docker", *, timeout_s: float = 120.0) -> None:
        self.runner = Runner(docker, timeout_s=timeout_s)

    @property
    def calls(self) -> int:
        return self.runner.calls

    def _run(self, args: Sequence[str], op: str, obj: str, **kw: Any) -> str:
        return self.runner.run(args, op=op, obj=obj, **kw)
