"""What `aifo exec`/`run`/`shell` take from their command line and what they say back: the
options between NAME and CMD, `--env` pairs, whether we sit on a terminal, the stale warning.

Pure and light on purpose (no dataclasses, no typing at run time): `aifo exec`'s fast path
(aifo.commands.fastexec) uses it before anything heavier is loaded.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence

from aifo.errors import UsageError


class ExecArgs:
    """`-u/--user`, `-w/--workdir`, `-e/--env` given before CMD, and CMD."""

    __slots__ = ("user", "workdir", "env", "cmd")

    def __init__(
        self, user: str | None, workdir: str | None, env: tuple[str, ...], cmd: tuple[str, ...]
    ) -> None:
        self.user, self.workdir, self.env, self.cmd = user, workdir, env, cmd


_EXEC_OPTIONS = {"--user": "user", "-u": "user", "--workdir": "workdir", "-w": "workdir"}
_EXEC_OPTIONS |= {"--env": "env", "-e": "env"}


def split_exec_args(rest: Sequence[str]) -> ExecArgs:
    """Options between NAME and CMD, like `docker exec`: parsing stops at `--` or at CMD.

    Click can't stop at the first positional after NAME on its own; without this, an option of
    CMD (`ls -u`) would be taken for one of ours.
    """
    found: dict[str, str | None] = {"user": None, "workdir": None}
    env: list[str] = []
    i = 0
    while i < len(rest) and rest[i].startswith("-"):
        arg = rest[i]
        if arg == "--":
            i += 1
            break
        flag, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if flag not in _EXEC_OPTIONS:
            raise UsageError(
                f"unknown option {flag!r} before the command",
                hint="put `--` before a command that starts with a dash",
            )
        if eq:
            value = inline
        elif i + 1 < len(rest):
            i += 1
            value = rest[i]
        else:
            raise UsageError(f"option {flag} needs a value")
        if _EXEC_OPTIONS[flag] == "env":
            env.append(value)
        else:
            found[_EXEC_OPTIONS[flag]] = value
        i += 1
    cmd = tuple(rest[i:])
    if not cmd:
        raise UsageError("missing the command to run", hint="aifo exec FILE NAME -- CMD...")
    return ExecArgs(found["user"], found["workdir"], tuple(env), cmd)


def strip_separator(args: Sequence[str]) -> tuple[str, ...]:
    """ARGS after `--` (click keeps a `--` that follows the first positional)."""
    return tuple(args[1:]) if args and args[0] == "--" else tuple(args)


def parse_env(pairs: Iterable[str]) -> dict[str, str]:
    """`--env K=V` values; `--env K` takes K from our own environment (like docker)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not key or any(c.isspace() for c in key):
            raise UsageError(f"--env {pair!r}: expected KEY=VALUE or KEY")
        if not sep:
            if key not in os.environ:
                raise UsageError(f"--env {key}: not set in this environment")
            value = os.environ[key]
        out[key] = value
    return out


class Terminal:
    """How to wire an exec to our stdio: a TTY only when we are attached to one."""

    __slots__ = ("tty", "interactive")

    def __init__(self, tty: bool, interactive: bool) -> None:
        self.tty, self.interactive = tty, interactive


def terminal(stdin: object = None, stdout: object = None) -> Terminal:
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout

    def isatty(stream: object) -> bool:
        check = getattr(stream, "isatty", None)
        try:
            return bool(check()) if callable(check) else False
        except (OSError, ValueError):
            return False

    in_tty, out_tty = isatty(stdin), isatty(stdout)
    closed = stdin is None or getattr(stdin, "closed", False)
    return Terminal(tty=in_tty and out_tty, interactive=not closed)


def stale_text(container_id: str, spec_file: str) -> str:
    """The warning for a container applied from another version of the spec."""
    return (
        f"warning: {container_id} was applied from a different spec; "
        f"run `aifo apply {spec_file}` to bring it up to date"
    )
