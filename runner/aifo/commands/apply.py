"""`aifo apply`: make Docker match the spec, all or nothing."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from aifo.commands.options import (
    lock_timeout_option,
    output_option,
    profile_option,
    session_override,
    spec_argument,
)
from aifo.commands.options import spec_file as find_spec_file

if TYPE_CHECKING:
    from aifo.apply.events import Notify
    from aifo.apply.execute import ApplyResult
    from aifo.engine.api import Engine
    from aifo.pipeline import Compiled, Prepared


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


@click.command("apply")
@spec_argument
@profile_option
@click.option("--yes", "-y", is_flag=True, help="Don't ask before replacing or removing.")
@click.option(
    "--parallel",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Engine operations run at once within a layer.",
)
@lock_timeout_option
@output_option("text", "json")
@click.option("--watch", is_flag=True, help="Apply, then again on every save; implies --yes.")
@click.option(
    "--settle",
    "settle_ms",
    type=click.IntRange(0, 60_000),
    default=300,
    show_default=True,
    metavar="MS",
    help="With --watch: quiet time that ends a burst of saves.",
)
@click.option("--down-on-exit", is_flag=True, help="With --watch: destroy the session on exit.")
def command(
    spec_file: str | None,
    session_name: str | None,
    profiles: tuple[str, ...],
    yes: bool,
    parallel: int,
    lock_timeout: float,
    output: str,
    watch: bool = False,
    settle_ms: int = 300,
    down_on_exit: bool = False,
) -> None:
    """Apply the spec (FILE, -f FILE, or the nearest aifo.yaml) as one transaction.

    Any failure (Docker error, failed readiness or hook, Ctrl-C) undoes every step taken, so
    Docker is left as it was. A second apply of the same session waits for the first
    (--lock-timeout). Asks before replacing or removing anything (--yes: don't; required
    without a terminal). Exit 1 when the apply failed and was rolled back.
    """
    spec_file = find_spec_file(spec_file)
    session_name = session_override(session_name)
    if watch or down_on_exit:
        from aifo.commands.apply_watch import run_watch
        from aifo.errors import UsageError

        if not watch:
            raise UsageError("--down-on-exit needs --watch")
        code = run_watch(
            spec_file,
            profiles,
            settle_ms=settle_ms,
            output=output,
            down_on_exit=down_on_exit,
            parallel=parallel,
            lock_timeout=lock_timeout,
            session=session_name,
        )
        click.get_current_context().exit(code)
    from aifo import pipeline
    from aifo.apply.events import Event
    from aifo.errors import EXIT_FAILED, EXIT_INVALID
    from aifo.state import record_spec_path
    from aifo.ui.errors import render_issues
    from aifo.ui.events import JsonLines
    from aifo.ui.plan import render_plan, write_plan

    json_out = output == "json"
    jsonl = JsonLines()

    def notify(message: str) -> None:
        if json_out:
            jsonl(Event("note", message=message))
        else:
            click.echo(message, err=True)

    compiled = pipeline.load(spec_file, profiles, session_name)
    if compiled.warnings:
        click.echo(render_issues(compiled.warnings, prefix="warning: "), err=True)
    session = compiled.session
    engine = pipeline.connect()
    with pipeline.prepare(engine, compiled, notify=notify, lock_timeout=lock_timeout) as prepared:
        plan = prepared.plan
        record_spec_path(session.name, spec_file)
        if json_out:
            jsonl.write({"event": "plan", **plan.to_dict()})
        elif sys.stdout.isatty():
            from rich.console import Console

            render_plan(Console(), plan)
        else:
            write_plan(plan)
        if not plan.has_changes:  # nothing to run: skip the transaction machinery (and rich)
            if json_out:
                jsonl(
                    Event("apply.done", message="no changes", duration_s=0.0, data={"changes": 0})
                )
            return
        if plan.destructive and not yes:
            if not _interactive():
                click.echo(
                    f"error: this apply would replace or remove {len(plan.destructive)} "
                    "object(s)\n  hint: pass --yes to allow it without a terminal",
                    err=True,
                )
                click.get_current_context().exit(EXIT_INVALID)
            if not click.confirm("Replace/remove these objects?", default=False, err=True):
                click.echo("Cancelled; nothing was changed.", err=True)
                click.get_current_context().exit(EXIT_FAILED)  # "no" is not a usage error
        result = _run(engine, compiled, prepared, parallel, json_out, notify)
    if not json_out:
        click.echo(
            f"Applied session {session.name!r}: {plan.summary()} in {result.duration_s:.1f}s"
        )


def _run(
    engine: Engine,
    compiled: Compiled,
    prepared: Prepared,
    parallel: int,
    json_out: bool,
    notify: Notify,
) -> ApplyResult:
    """The transaction, with progress (live on a terminal) or JSON Lines events."""
    import threading
    from contextlib import AbstractContextManager, nullcontext

    from rich.console import Console

    from aifo import pipeline
    from aifo.apply.cancel import cancel_on_signals
    from aifo.apply.events import Emit
    from aifo.ui.events import JsonLines
    from aifo.ui.progress import Progress

    cancel = threading.Event()
    progress: AbstractContextManager[Emit] = (
        nullcontext(JsonLines()) if json_out else Progress(Console(stderr=True))
    )
    with cancel_on_signals(cancel, notify=notify), progress as emit:
        return pipeline.execute(
            engine, compiled, prepared, emit=emit, cancel=cancel, parallel=parallel
        )
