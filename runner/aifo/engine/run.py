"""A tiny runner for raw `docker` CLI calls: argv in, stdout out, typed errors on failure.

Deliberately not python-on-whales: importing it costs ~0.25 s, the budget of a whole no-op apply.
The runner counts calls (`calls`) so tests and benchmarks can assert batching, and `run_many`
starts several independent calls at once so their latencies overlap.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from aifo.engine.translate import translate
from aifo.errors import EngineError, EngineUnavailable

DEFAULT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Result:
    """A finished `docker` CLI call."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Runner:
    """Runs `docker <args>`; thread-safe call counting."""

    def __init__(self, docker: str = "docker", *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.docker = docker
        self.timeout_s = timeout_s
        self.calls = 0
        self._lock = threading.Lock()

    def _count(self, n: int = 1) -> None:
        with self._lock:
            self.calls += n

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("DOCKER_CLI_HINTS", "false")
        if extra:
            env.update(extra)
        return env

    def _unavailable(self, op: str, obj: str, exc: OSError) -> EngineUnavailable:
        from aifo.engine.hints import install_engine, start_engine

        if isinstance(exc, FileNotFoundError):
            return EngineUnavailable(
                f"the {self.docker!r} command was not found (needed to {op})",
                hint=install_engine() + "; then " + start_engine(),
            )
        what = f"{op} {obj}".strip()
        return EngineUnavailable(
            f"{what}: cannot run {self.docker!r}: {exc.strerror or exc}", hint=start_engine()
        )

    def call(
        self,
        args: Sequence[str],
        *,
        op: str,
        obj: str,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
    ) -> Result:
        """Run once and return the result, whatever the return code."""
        self._count()
        argv = [self.docker, *args]
        timeout = self.timeout_s if timeout_s is None else timeout_s
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self.environ(env) if env else None,
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise EngineError(f"{op} {obj}: docker did not answer within {timeout:g} s") from exc
        except OSError as exc:
            raise self._unavailable(op, obj, exc) from exc
        return Result(tuple(args), proc.returncode, proc.stdout, proc.stderr)

    def run(
        self,
        args: Sequence[str],
        *,
        op: str,
        obj: str,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        redact: Iterable[str] = (),
        image_is_object: bool = False,
    ) -> str:
        """Run once; return stdout, or raise the translated error on a non-zero exit."""
        result = self.call(args, op=op, obj=obj, timeout_s=timeout_s, env=env)
        if not result.ok:
            raise translate(
                op,
                obj,
                result.returncode,
                result.stderr,
                redact=redact,
                image_is_object=image_is_object,
            )
        return result.stdout

    def run_many(self, batch: Sequence[Sequence[str]], *, op: str) -> list[Result]:
        """Start every call at once, then collect them in order (no checks: callers decide)."""
        self._count(len(batch))
        procs: list[subprocess.Popen[str]] = []
        try:
            for args in batch:
                procs.append(
                    subprocess.Popen(
                        [self.docker, *args],
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
            results: list[Result] = []
            for args, proc in zip(batch, procs, strict=True):
                out, err = proc.communicate(timeout=self.timeout_s)
                results.append(Result(tuple(args), proc.returncode, out, err))
            return results
        except subprocess.TimeoutExpired as exc:
            raise EngineError(f"{op}: docker did not answer within {self.timeout_s:g} s") from exc
        except OSError as exc:
            raise self._unavailable(op, "", exc) from exc
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
