"""`aifo ...` command lines shown to users (workflows, example comments, the README, scripts),
found and checked against the real click command tree without running anything.

A line is checked with click's own parser (`make_context`: the subcommand exists, options and
their values are accepted, required arguments are there) and, because `exec` and `run` pass
unknown options through to the command they start, by an explicit look-up of every option word
that belongs to aifo rather than to that command.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import click

from aifo.cli import cli

_OPERATORS = {"&&", "||", ";", "|", "&", "(", ")", "<", ">", ">>", "2>", "<<"}
_MD_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_MD_FENCE = re.compile(r"^```(\w*)\s*$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def is_aifo(word: str) -> bool:
    return word == "aifo" or word.endswith("/aifo")


def _words(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)


def _command_position(words: list[str], i: int) -> bool:
    """Whether words[i] is where a command starts (after an operator and `VAR=value`s)."""
    j = i - 1
    while j >= 0 and _ASSIGNMENT.match(words[j]):
        j -= 1
    return j < 0 or words[j] in _OPERATORS


def aifo_invocations(script: str) -> Iterator[list[str]]:
    """Each `aifo` invocation in a shell snippet, as its argv after `aifo`."""
    for line in script.splitlines():
        if "aifo" not in line:
            continue
        try:
            words = _words(line)
        except ValueError as exc:
            raise ValueError(f"{exc} in {line!r}") from None
        start = None
        for i, word in enumerate([*words, ";"]):
            if word in _OPERATORS:
                if start is not None:
                    yield words[start + 1 : i]
                start = None
            elif start is None and is_aifo(word) and _command_position(words, i):
                start = i


def comment_commands(text: str) -> str:
    """The command lines (those starting with aifo) of a file's leading `#` comment block."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        words = line[1:].split()
        if words and is_aifo(words[0]):
            lines.append(line[1:])
    return "\n".join(lines)


def markdown_commands(text: str) -> Iterator[tuple[int, list[str]]]:
    """`aifo` invocations in a Markdown file: `$ ...` lines of console/shell fences, and inline
    code spans that start with aifo. Yields (line number, argv after `aifo`)."""
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        opened = _MD_FENCE.match(line.strip())
        if opened:
            fence = None if fence is not None else opened.group(1) or "text"
            continue
        if fence in ("console", "shell", "sh", "bash"):
            shown = line.strip()
            shown = shown[2:] if fence == "console" and shown.startswith("$ ") else shown
            if fence == "console" and line.strip() == shown:
                continue  # output, not a command
            for argv in aifo_invocations(shown):
                yield number, argv
        elif fence is None:
            for span in _MD_CODE_SPAN.findall(line):
                words = span.split()
                if words and is_aifo(words[0]) and not any("[" in w or "…" in w for w in words):
                    for argv in aifo_invocations(span):
                        yield number, argv


@dataclass(frozen=True)
class Checked:
    command: str  # the subcommand ("" for `aifo --version` and the like)
    options: tuple[str, ...]  # option words that belong to aifo (not to the command it starts)


def _option(command: click.Command, word: str) -> click.Option | None:
    flag = word.split("=", 1)[0] if word.startswith("--") else word[:2]
    for param in command.params:
        if isinstance(param, click.Option) and flag in (*param.opts, *param.secondary_opts):
            return param
    return None


def _passthrough(
    command: click.Command, ctx: click.Context, *, file_given: bool
) -> tuple[str, ...]:
    """The trailing words aifo hands to another program (`exec`'s CMD, `run`'s ARGS)."""
    from aifo.discovery import split_target

    for param in command.params:
        if isinstance(param, click.Argument) and param.nargs == -1:
            if param.type is click.UNPROCESSED and param.name:
                _spec, _name, tail = split_target(ctx.params[param.name], file_given=file_given)
                if command.name == "exec":
                    from aifo.attach.execargs import split_exec_args

                    return split_exec_args(tail).cmd  # raises on an unknown option before CMD
                return tail
    return ()


def _global_options(argv: list[str]) -> int:
    """How many words of argv are options of `aifo` itself (`-f FILE`, `--session NAME`)."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        option = _option(cli, argv[i])
        if option is None:
            raise click.NoSuchOption(argv[i])
        attached = "=" in argv[i] if argv[i].startswith("--") else len(argv[i]) > 2
        i += 1 if option.is_flag or attached else 2
    return i


def check(argv: Sequence[str]) -> Checked:
    """Raise click.UsageError (or runner's UsageError) unless `aifo ARGV` parses."""
    argv = list(argv)
    top = _global_options(argv)
    if top >= len(argv):
        return Checked("", tuple(w for w in argv if w.startswith("-")))
    file_given = any(w in ("-f", "--file") or w.startswith("--file=") for w in argv[:top])
    name, args = argv[top], argv[top + 1 :]
    command = cli.get_command(click.Context(cli), name)
    if command is None:
        raise click.UsageError(f"no such command {name!r}")
    while isinstance(command, click.Group) and args:  # `aifo fork new ...`: the subcommand's
        sub = command.get_command(click.Context(command), args[0])
        if sub is None:
            raise click.UsageError(f"no such command {name} {args[0]!r}")
        command, name, args = sub, f"{name} {args[0]}", args[1:]
    try:
        ctx = command.make_context(f"aifo {name}", list(args))
    except click.exceptions.Exit:  # --help
        return Checked(name, tuple(w for w in args if w.startswith("-")))
    tail = _passthrough(command, ctx, file_given=file_given)
    owned = args[: len(args) - len(tail)] if tail else args
    options: list[str] = []
    skip = False
    for word in owned:
        if skip:
            skip = False
            continue
        if word == "--" or not word.startswith("-") or word == "-":
            continue
        option = _option(command, word)
        if option is None:
            raise click.NoSuchOption(word.split("=", 1)[0], ctx=ctx)
        options.append(word)
        attached = "=" in word if word.startswith("--") else len(word) > 2
        skip = not option.is_flag and not option.count and not attached
    return Checked(name, tuple(options))
