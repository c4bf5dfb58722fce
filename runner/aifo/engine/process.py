"""Exec processes the caller drives: `docker exec` with pipes or our stdio, and signals by marker.

`docker exec` forwards no signal into the container, and a killed CLI leaves its process
running there. So every process aifo starts this way carries a marker variable in its
environment (inherited by its children), and `signal_marked` signals every process in the
container whose environment holds it: one short exec of a POSIX shell and `grep`, run as the
same user. The marker is a random id, never a secret.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from typing import IO, Protocol

from aifo.engine import args as A
from aifo.engine.run import Runner

MARKER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")
SIGNALS = ("INT", "TERM", "HUP", "QUIT", "KILL", "PIPE")

# $1 = the variable `KEY=value` as a basic regex, $2 = the signal, $3 = `$` for an exact match
# (routed command #2 must not take #20 and #21 with it) or empty for a family (every id under a
# prefix: the router's sweep). `grep -l` finds the candidates (busybox's `grep -F` stops at the
# NULs between variables; a regex does not); each candidate's variables, one a line, must then
# hold one that starts (and, exact, ends) as asked. The script's own processes lack the marker,
# so it never signals itself. Prints the count.
_SIGNAL_SCRIPT = (
    'n=0; for f in $(grep -l -- "$1" /proc/[0-9]*/environ 2>/dev/null); do '
    "tr '\\000' '\\n' <\"$f\" 2>/dev/null | grep -q -- \"^$1$3\" || continue; "
    'p=${f#/proc/}; p=${p%/environ}; kill -s "$2" "$p" 2>/dev/null && n=$((n+1)); done; echo $n'
)


class ExecProcess(Protocol):
    """A started exec: its pipes (when piped) and its life, nothing else."""

    stdin: IO[bytes] | None
    stdout: IO[bytes] | None
    stderr: IO[bytes] | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code (the command's); None when `timeout` passed first."""

    def kill(self) -> None: ...


class CliExecProcess:
    """An exec run by the docker CLI."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        self.stdin: IO[bytes] | None = proc.stdin
        self.stdout: IO[bytes] | None = proc.stdout
        self.stderr: IO[bytes] | None = proc.stderr

    def poll(self) -> int | None:
        return self._proc.poll()

    def wait(self, timeout: float | None = None) -> int | None:
        """The CLI's exit code (the command's); None when `timeout` passed first."""
        try:
            return self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()


def start(
    runner: Runner,
    ref: str,
    argv: Sequence[str],
    *,
    user: str | None,
    workdir: str | None,
    env: Mapping[str, str],
    tty: bool,
    interactive: bool,
    pipes: bool,
    own_group: bool,
) -> ExecProcess:
    """The docker CLI running `argv` in `ref`: stdio piped to us (`pipes`) or our own.

    `own_group` puts the CLI in a process group of its own, so a terminal's Ctrl-C reaches only
    us (we deliver it into the container ourselves) instead of killing the CLI mid-stream.
    """
    args = A.exec_args(
        ref, argv, user=user, workdir=workdir, env_keys=sorted(env),
        interactive=interactive, tty=tty,
    )  # fmt: skip
    runner._count()
    stdio = subprocess.PIPE if pipes else None
    try:
        return CliExecProcess(
            subprocess.Popen(
                [runner.docker, *args],
                env=runner.environ(dict(env)),
                stdin=stdio if interactive else subprocess.DEVNULL,
                stdout=stdio,
                stderr=stdio,
                process_group=0 if own_group else None,
                bufsize=0,
            )
        )
    except OSError as exc:
        raise runner._unavailable("exec in", ref, exc) from exc


def signal_marked(
    runner: Runner,
    ref: str,
    marker: str,
    signal: str,
    *,
    user: str | None,
    timeout_s: float,
    family: bool = False,
) -> int:
    """Send `signal` to every process in `ref` whose environment holds the variable `marker`
    (`KEY=value` exactly; `family`: every value that starts so); returns how many were
    signalled (0 when the container is gone)."""
    args = A.exec_args(
        ref, signal_argv(marker, signal, family=family),
        user=user, workdir=None, env_keys=(), interactive=False, tty=False,
    )  # fmt: skip
    result = runner.call(args, op="signal", obj=ref, timeout_s=timeout_s)
    text = result.stdout.strip()
    return int(text) if result.ok and text.isdigit() else 0


def signal_argv(marker: str, signal: str, *, family: bool = False) -> list[str]:
    """The command that signals every process holding `marker` and prints how many; ValueError
    for a signal or marker outside the known forms (nothing user-made reaches the script)."""
    key, _, value = marker.partition("=")
    if signal not in SIGNALS or not key.isidentifier() or not set(value) <= MARKER_CHARS:
        raise ValueError(f"bad signal {signal!r} or marker {marker!r}")
    pattern = marker.replace(".", "[.]")
    return ["sh", "-c", _SIGNAL_SCRIPT, "aifo-signal", pattern, signal, "" if family else "$"]
