"""Exec and logs over the `docker` CLI (part of `DockerEngine`), attached to our stdio or
captured."""

from __future__ import annotations

import os
import selectors
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO

from aifo.engine import args as A
from aifo.engine import process
from aifo.engine.cli_core import CliCore
from aifo.engine.hijack import keep_tail
from aifo.engine.translate import translate
from aifo.errors import EngineError, NotFound


class CliExec(CliCore):
    """Run commands in containers and read what containers wrote."""

    def exec(
        self,
        ref: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        tty: bool = False,
        interactive: bool = False,
    ) -> int:
        """Attached to our stdio; the exit code is the command's (126/127: not runnable; a
        docker-side failure such as a missing container also exits non-zero)."""
        env = dict(env or {})
        args = A.exec_args(
            ref, argv, user=user, workdir=workdir, env_keys=sorted(env),
            interactive=interactive, tty=tty,
        )  # fmt: skip
        self.runner._count()
        try:
            proc = subprocess.run([self.runner.docker, *args], env=self.runner.environ(env))
        except OSError as exc:
            raise self.runner._unavailable("exec in", ref, exc) from exc
        return proc.returncode

    def exec_start(
        self,
        ref: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        tty: bool = False,
        interactive: bool = False,
        pipes: bool = False,
        own_group: bool = False,
        size: tuple[int, int] | None = None,
    ) -> process.ExecProcess:
        """The exec as a process the caller drives (aifo.engine.process.start)."""
        # The CLI can't give a terminal to a process whose stdin is a pipe: pipes win.
        return process.start(
            self.runner, ref, argv, user=user, workdir=workdir, env=dict(env or {}),
            tty=tty and not pipes, interactive=interactive, pipes=pipes, own_group=own_group,
        )  # fmt: skip

    def signal_marked(
        self,
        ref: str,
        marker: str,
        signal: str,
        *,
        user: str | None = None,
        timeout_s: float = 30,
        family: bool = False,
    ) -> int:
        """Signal every process in `ref` whose environment holds the variable `marker`."""
        return process.signal_marked(
            self.runner, ref, marker, signal, user=user, timeout_s=timeout_s, family=family
        )

    def exec_capture(
        self,
        ref: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> tuple[int, str]:
        """Non-interactive, stdout+stderr captured together. A missing or stopped container
        raises (NotFound / EngineError) instead of returning the CLI's exit code."""
        env = dict(env or {})
        args = A.exec_args(
            ref, argv, user=user, workdir=workdir, env_keys=sorted(env),
            interactive=False, tty=False,
        )  # fmt: skip
        self.runner._count()
        try:
            proc = subprocess.Popen(
                [self.runner.docker, *args],
                env=self.runner.environ(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            raise self.runner._unavailable("exec in", ref, exc) from exc
        with proc:
            try:
                tail = _tail(proc, timeout_s)
            except TimeoutError as exc:
                proc.kill()
                raise EngineError(f"exec in {ref}: no exit within {timeout_s:g} s") from exc
        # its last MiB (hijack.keep_tail), as over the socket (aifo.engine.hijack.capture)
        output = tail.decode(errors="replace")
        head = output.lstrip().splitlines()[0] if output.strip() else ""
        if proc.returncode in (1, 126, 127) and head.startswith("Error response from daemon:"):
            err = translate("exec in", ref, proc.returncode, head, redact=env.values())
            raise err if isinstance(err, NotFound) else EngineError(err.message)
        return proc.returncode, output

    def log_tail(self, ref: str, *, lines: int = 20) -> str:
        """The last `lines` lines a container wrote (stdout, then stderr), for error reports."""
        result = self.runner.call(
            ["logs", "--tail", str(lines), ref], op="read the logs of", obj=ref
        )
        if not result.ok:
            raise translate("read the logs of", ref, result.returncode, result.stderr)
        return "\n".join(part.strip() for part in (result.stdout, result.stderr) if part.strip())

    def log_lines(self, ref: str, *, since: str | None = None) -> list[tuple[str, str]]:
        """A container's stdout (not stderr) as (Docker's RFC 3339 timestamp, line), oldest
        first; `since`: only from that timestamp on (inclusive)."""
        args = ["logs", "--timestamps", *(["--since", since] if since else []), ref]
        out = self._run(args, "read the logs of", ref)
        lines: list[tuple[str, str]] = []
        for line in out.splitlines():
            stamp, _, text = line.partition(" ")
            lines.append((stamp, text))
        return lines

    def logs(
        self,
        refs: Sequence[str],
        *,
        write: Callable[[bytes], None],
        follow: bool = False,
        tail: int | None = None,
        names: Sequence[str] | None = None,
    ) -> int:
        """One container: the CLI attached to our stdio. Several: one CLI per container, each
        line prefixed `name | ` (`names`, else the ref) and handed to `write`; returns the first
        non-zero exit code. The CLI gets the runner's environment (its DOCKER_HOST)."""
        base = ["logs", *(["--follow"] if follow else [])]
        if tail is not None:
            base += ["--tail", str(tail)]
        if len(refs) == 1:
            self.runner._count()
            return subprocess.run(
                [self.runner.docker, *base, refs[0]], env=self.runner.environ()
            ).returncode
        shown = list(names) if names is not None and len(names) == len(refs) else list(refs)
        width = max((len(r) for r in shown), default=0)
        lock = threading.Lock()
        procs: list[subprocess.Popen[bytes]] = []
        threads: list[threading.Thread] = []

        def pump(prefix: bytes, stream: IO[bytes]) -> None:
            for line in iter(stream.readline, b""):
                with lock:
                    write(prefix + line)

        self.runner._count(len(refs))
        try:
            for ref, name in zip(refs, shown, strict=True):
                proc = subprocess.Popen(
                    [self.runner.docker, *base, ref],
                    env=self.runner.environ(),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
                procs.append(proc)
                assert proc.stdout is not None
                prefix = f"{name.ljust(width)} | ".encode()
                thread = threading.Thread(target=pump, args=(prefix, proc.stdout), daemon=True)
                thread.start()
                threads.append(thread)
            codes = [proc.wait() for proc in procs]
            for thread in threads:
                thread.join()
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait()
        return next((c for c in codes if c), 0)


def _tail(proc: subprocess.Popen[bytes], timeout_s: float | None) -> bytes:
    """Read `proc`'s output to its end and wait for it, keeping only its last MiB
    (hijack.keep_tail: memory stays bounded whatever it writes). TimeoutError past
    `timeout_s`."""
    assert proc.stdout is not None
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    out = bytearray()
    fd = proc.stdout.fileno()
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError
            if not selector.select(left):
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            out += chunk
            keep_tail(out)
    left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
    try:
        proc.wait(left)
    except subprocess.TimeoutExpired as exc:
        raise TimeoutError from exc
    return bytes(out)
