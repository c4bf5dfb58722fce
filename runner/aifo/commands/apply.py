"""`aifo apply`: make Docker match the spec, all or nothing."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from aifo.apply import PARALLEL
from aifo.commands.options import (
    lock_timeout_option,
    output_option,
    profile_option,
    session_override,
    spec_argument,
)
from aifo.commands.options import spec_file as find_spec_file

if TYPE_CHECKING:
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
    default=PARALLEL,
    show_default=True,
    help="Engine operations (containers being created and started) run at once.",
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
@click.option("--dry-run", is_flag=True, help="Show the plan and change nothing (as `aifo plan`).")
@click.option(
    "--wait",
    is_flag=True,
    help="Also wait until every container is ready: healthy when it has a healthcheck, else "
    "running. Not ready in time: rolled back like any other failure.",
)
@click.option(
    "--wait-timeout",
    "wait_timeout",
    type=click.FloatRange(min=0),
    metavar="S",
    help="With --wait: seconds each container may take (default: its readiness_timeout).",
)
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
    dry_run: bool = False,
    wait: bool = False,
    wait_timeout: float | None = None,
) -> None:
    """Apply the spec (FILE, -f FILE, or the nearest aifo.yaml) as one transaction; or apply
    exactly a plan saved by `aifo plan --out PLANFILE` (refused when anything changed since).

    Any failure (Docker error, failed readiness or hook, Ctrl-C) undoes every step taken, so
    Docker is left as it was. A second apply of the same session waits for the first
    (--lock-timeout). Asks before replacing or removing anything (--yes: don't; required
    without a terminal). Exit 1 when the apply failed and was rolled back.
    """
    from aifo.errors import UsageError
    from aifo.plan import saved as savedplan

    if wait_timeout is not None and not wait:
        raise UsageError("--wait-timeout needs --wait")
    if dry_run:
        if watch:
            raise UsageError("--dry-run and --watch don't go together")
        from aifo.commands import plan as plan_command

        click.get_current_context().invoke(
            plan_command.command,
            spec_file=spec_file,
            session_name=session_name,
            profiles=profiles,
            output=output,
            lock_timeout=lock_timeout,
        )
        return
    saved: dict[str, Any] | None = None
    planfile = spec_file
    if spec_file is not None and savedplan.is_plan_file(spec_file):
        if profiles or session_name or watch:
            raise UsageError(
                "a saved plan fixes the spec, its profiles and the session",
                hint=f"run `aifo apply {spec_file}` alone, or make a new plan",
            )
        saved = savedplan.load(spec_file)
        spec_file, profiles = str(saved["spec"]), tuple(saved["profiles"])
        session_name, yes = saved["session_override"], True  # reviewed: no second question
    else:
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
    from aifo.errors import EXIT_FAILED
    from aifo.state.folder import record_spec_path
    from aifo.ui.errors import render_issues
    from aifo.ui.events import JsonLines
    from aifo.ui.plan import done_summary, render_plan, write_plan

    json_out = output == "json"
    jsonl = JsonLines()

    def notify(message: str) -> None:
        if json_out:
            jsonl(Event("note", message=message))
        else:
            click.echo(message, err=True)

    engine = pipeline.connect()  # not pinged: connecting costs nothing
    compiled = _load(spec_file, profiles, session_name, planfile if saved else None, engine)
    if compiled.warnings:
        click.echo(render_issues(compiled.warnings, prefix="warning: "), err=True)
    session = compiled.session
    with pipeline.prepare(engine, compiled, notify=notify, lock_timeout=lock_timeout) as prepared:
        plan = prepared.plan
        if saved is not None:
            _check_saved(
                saved, str(planfile), spec_file, profiles, session_name, compiled, prepared
            )
        record_spec_path(session.name, spec_file)
        if json_out:
            jsonl.write({"event": "plan", **plan.to_dict()})
        elif sys.stdout.isatty():
            from rich.console import Console

            render_plan(Console(), plan)
        else:
            write_plan(plan)
        if not plan.has_changes and not wait:  # skip the transaction machinery (and rich)
            if json_out:
                jsonl(
                    Event("apply.done", message="no changes", duration_s=0.0, data={"changes": 0})
                )
            return
        if plan.destructive and not yes:
            if not _interactive():
                raise UsageError(
                    f"this apply would replace or remove {len(plan.destructive)} object(s)",
                    hint="pass --yes to allow it without a terminal",
                )
            if not click.confirm("Replace/remove these objects?", default=False, err=True):
                click.echo("Cancelled; nothing was changed.", err=True)
                click.get_current_context().exit(EXIT_FAILED)  # "no" is not a usage error
        result = _run(engine, compiled, prepared, parallel, json_out, (wait, wait_timeout))
    if not json_out:
        click.echo(done_summary(plan, result.duration_s, waited=wait))


def _load(
    spec_file: str,
    profiles: tuple[str, ...],
    session: str | None,
    planfile: str | None,
    engine: Engine,
) -> Compiled:
    """The spec; for a saved plan, a spec that no longer validates is a change (exit 1)."""
    from aifo import pipeline
    from aifo.errors import SpecError, StalePlan

    try:
        return pipeline.load(spec_file, profiles, session, engine=engine)
    except SpecError as exc:
        if planfile is None:
            raise
        raise StalePlan(
            f"the saved plan {planfile} no longer holds; nothing was changed: "
            "the spec changed and is now invalid:",
            items=[str(i) for i in exc.issues],
            hint="fix the spec, then review a new plan: `aifo plan --out PLANFILE`",
        ) from exc


def _check_saved(
    saved: dict[str, Any],
    planfile: str,
    spec_file: str,
    profiles: tuple[str, ...],
    session: str | None,
    compiled: Compiled,
    prepared: Prepared,
) -> None:
    """Refuse (exit 1, nothing changed) unless the saved plan still holds, naming what changed."""
    from aifo.errors import StalePlan
    from aifo.plan import saved as savedplan

    now = savedplan.current(
        spec_file=spec_file,
        profiles=profiles,
        session_override=session,
        sources=compiled.sources,
        session=compiled.session,
        snapshot=prepared.before,
        plan=prepared.plan,
    )
    changed = savedplan.differences(saved, now)
    if changed:
        raise StalePlan(
            f"the saved plan {planfile} no longer holds; nothing was changed:",
            items=changed,
            hint="review a new plan: `aifo plan --out PLANFILE`, then apply that",
        )


def _run(
    engine: Engine,
    compiled: Compiled,
    prepared: Prepared,
    parallel: int,
    json_out: bool,
    waiting: tuple[bool, float | None] = (False, None),
) -> ApplyResult:
    """The transaction, with progress (live on a terminal) or JSON Lines events."""
    import threading
    from contextlib import AbstractContextManager, nullcontext

    from aifo import pipeline
    from aifo.apply.cancel import cancel_on_signals
    from aifo.apply.events import Emit, Event
    from aifo.ui.events import JsonLines
    from aifo.ui.lines import stderr_progress

    cancel = threading.Event()
    progress: AbstractContextManager[Emit] = (
        nullcontext(JsonLines()) if json_out else stderr_progress()
    )
    with progress as emit:

        def note(message: str) -> None:  # through the live table, never across it
            emit(Event("note", message=message))

        with cancel_on_signals(cancel, notify=note):
            return pipeline.execute(
                engine,
                compiled,
                prepared,
                emit=emit,
                cancel=cancel,
                parallel=parallel,
                wait=waiting[0],
                wait_timeout_s=waiting[1],
            )
