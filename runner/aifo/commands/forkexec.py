"""`aifo fork exec|run|shell`: a command in a fork's container; `exec --all` in every fork at
once, with a table (or JSON) of exit codes, durations and diffstats."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from aifo.commands.attaching import Attached
    from aifo.commands.forking import Main
    from aifo.fork.records import ForkRecord

TAIL = 2000  # characters of each fork's output kept in `exec --all`'s JSON


def _number(word: str) -> int:
    from aifo.errors import UsageError

    try:
        return int(word)
    except ValueError:
        raise UsageError(
            f"{word!r} is not a fork number", hint="aifo fork exec I AGENT -- CMD"
        ) from None


def _attach(main: Main, record: ForkRecord, name: str) -> Attached:
    from aifo import pipeline
    from aifo.attach.lookup import locate
    from aifo.commands.attaching import Attached
    from aifo.commands.forking import fork_session

    engine = pipeline.connect()
    session = fork_session(record)
    return Attached(engine, session, locate(engine, session, name, record.spec))


def _split(words: tuple[str, ...], *, with_number: bool) -> tuple[int | None, str, list[str]]:
    from aifo.attach.execargs import strip_separator
    from aifo.errors import UsageError

    need = 2 if with_number else 1
    if len(words) < need:
        usage = (
            "aifo fork exec I AGENT -- CMD" if with_number else "aifo fork exec --all AGENT -- CMD"
        )
        raise UsageError("missing arguments", hint=usage)
    number = _number(words[0]) if with_number else None
    name = words[need - 1]
    return number, name, list(strip_separator(list(words[need:])))


def run(words: tuple[str, ...], *, every: bool, json_out: bool) -> None:
    from aifo.commands import attaching, forking
    from aifo.errors import UsageError

    main = forking.main_session()
    number, name, argv = _split(words, with_number=not every)
    if not argv:
        raise UsageError("no command given", hint="aifo fork exec I AGENT -- CMD")
    if not every:
        assert number is not None
        (record,) = forking.chosen(main, [number])
        code = attaching.exec_in(_attach(main, record, name), argv)
        click.get_current_context().exit(code)
    chosen = forking.chosen(main, [], every=True)
    if not chosen:
        raise UsageError(f"session {main.session!r} has no forks", hint="aifo fork new N")
    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
        results = list(pool.map(lambda r: _one(main, r, name, argv), chosen))
    _report(results, json_out)
    if any(r.code != 0 for r in results):
        click.get_current_context().exit(1)


@dataclass(frozen=True)
class Outcome:
    """One fork's run of `exec --all`."""

    fork: int
    code: int
    duration_s: float
    diffstat: str
    output: str
    error: str | None = None


def _one(main: Main, record: ForkRecord, name: str, argv: list[str]) -> Outcome:
    from aifo.commands.attaching import capture_in
    from aifo.engine.git import Git
    from aifo.errors import AifoError
    from aifo.fork.inspect import Reader

    started = time.monotonic()
    try:
        attached = _attach(main, record, name)
        code, output = capture_in(attached, argv)  # its secrets and routes, as `fork exec I`
    except AifoError as exc:
        return Outcome(record.fork, -1, time.monotonic() - started, "", "", exc.message)
    duration = time.monotonic() - started
    reader = Reader(Git(), record, main.folder)
    try:
        from aifo.commands.forking import refresh

        refresh(record, attached.engine)
        reader.fetch()
        stat = reader.diffstat()
    except AifoError as exc:
        stat = f"? ({exc.message})"
    return Outcome(record.fork, code, duration, stat, output[-TAIL:])


def _report(results: list[Outcome], json_out: bool) -> None:
    import json

    if json_out:
        rows: list[dict[str, Any]] = [
            {
                "fork": r.fork,
                "exit_code": r.code,
                "duration_s": round(r.duration_s, 3),
                "diffstat": r.diffstat,
                "output_tail": r.output,
                **({"error": r.error} if r.error else {}),
            }
            for r in results
        ]
        click.echo(json.dumps({"results": rows}, indent=2))
        return
    from aifo.ui.table import render

    table = [
        [str(r.fork), str(r.code), f"{r.duration_s:.1f}s", r.error or r.diffstat or "no changes"]
        for r in results
    ]
    for line in render(["FORK", "EXIT", "DURATION", "DIFFSTAT"], table):
        click.echo(line)


def agent_run(words: tuple[str, ...]) -> None:
    from aifo.attach import lookup
    from aifo.commands import attaching, forking
    from aifo.errors import UsageError

    main = forking.main_session()
    number, name, args = _split(words, with_number=True)
    assert number is not None
    (record,) = forking.chosen(main, [number])
    attached = _attach(main, record, name)
    try:
        argv = lookup.run_argv(attached.target.container, args, record.spec)
    except UsageError as exc:  # its hint names `aifo exec`: here it is `aifo fork exec`
        raise UsageError(exc.message, hint=f"aifo fork exec {number} {name} -- CMD...") from exc
    click.get_current_context().exit(attaching.exec_in(attached, argv))


def shell(number: int, name: str) -> None:
    from aifo.attach import lookup
    from aifo.commands import attaching, forking

    main = forking.main_session()
    (record,) = forking.chosen(main, [number])
    code = attaching.exec_in(_attach(main, record, name), lookup.SHELL_ARGV)
    click.get_current_context().exit(code)


def tmux_argv(main: Main, spec: str, agent: str, numbers: list[int]) -> list[str]:
    """One tmux session, one pane per fork, each running `aifo fork run I AGENT`."""
    import shlex
    import sys

    def pane(n: int) -> str:
        words = [sys.executable, "-m", "aifo", "-f", spec, "--session", main.session]
        return shlex.join([*words, "fork", "run", str(n), agent])

    argv = ["tmux", "new-session", "-s", f"aifo-{main.session}-forks", pane(numbers[0])]
    for n in numbers[1:]:
        argv += [";", "split-window", pane(n), ";", "select-layout", "tiled"]
    return argv


def attach(agent: str | None, dry_run: bool) -> None:
    import os
    import shlex
    import shutil
    import sys

    from aifo import pipeline
    from aifo.commands import forking
    from aifo.commands.options import spec_file
    from aifo.errors import UsageError
    from aifo.suggest import did_you_mean

    main = forking.main_session()
    chosen = forking.chosen(main, [], every=True)
    if not chosen:
        raise UsageError(f"session {main.session!r} has no forks", hint="aifo fork new N")
    spec = spec_file()
    agents = sorted(
        pipeline.resolve(spec, chosen[0].profiles, main.session).data.get("agents") or {}
    )
    if agent is None and len(agents) != 1:
        raise UsageError("name the agent to run", hint=f"agents: {', '.join(agents) or 'none'}")
    agent = agent or agents[0]
    if agent not in agents:
        raise UsageError(f"no agent {agent!r} in the spec", hint=did_you_mean(agent, agents))
    argv = tmux_argv(main, spec, agent, [r.fork for r in chosen])
    if dry_run:
        click.echo(shlex.join(argv))
        return
    if shutil.which("tmux") is None:
        raise UsageError(
            "tmux is not installed", hint="install tmux, or use `aifo fork run I AGENT`"
        )
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("fork attach needs a terminal", hint="use `aifo fork exec --all` instead")
    os.execvp("tmux", argv)  # tmux owns the terminal from here: nothing of ours to clean up
