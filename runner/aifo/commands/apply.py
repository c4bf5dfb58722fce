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
    from aifo.apply.request import ApplyOptions, ApplyRequest
    from aifo.engine.api import Engine
    from aifo.pipeline import Compiled, Prepared
    from aifo.ui.events import JsonLines


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
def command(**options: Any) -> None:
    """Apply the spec (FILE, -f FILE, or the nearest aifo.yaml) as one transaction; or apply
    exactly a plan saved by `aifo plan --out PLANFILE` (refused when anything changed since).

    Any failure (Docker error, failed readiness or hook, Ctrl-C) undoes every step taken, so
    Docker is left as it was. A second apply of the same session waits for the first
    (--lock-timeout). Asks before replacing or removing anything (--yes: don't; required
    without a terminal). Exit 1 when the apply failed and was rolled back.
    """
    from aifo.apply.request import ApplyOptions

    opts = ApplyOptions(**options)
    request = opts.request(find_spec_file, session_override)
    if request.mode == "dry-run":
        from aifo.commands import plan as plan_command

        click.get_current_context().invoke(
            plan_command.command,
            spec_file=request.spec_file,
            session_name=request.session,
            profiles=request.profiles,
            output=opts.output,
            lock_timeout=opts.lock_timeout,
        )
    elif request.mode == "watch":
        from aifo.commands.apply_watch import run_watch

        assert request.spec_file is not None
        code = run_watch(
            request.spec_file,
            request.profiles,
            settle_ms=opts.settle_ms,
            output=opts.output,
            down_on_exit=opts.down_on_exit,
            parallel=opts.parallel,
            lock_timeout=opts.lock_timeout,
            session=request.session,
        )
        click.get_current_context().exit(code)
    else:
        _apply_once(request, opts)


def _apply_once(request: ApplyRequest, opts: ApplyOptions) -> None:
    """One apply: one transaction, or on Swarm, when a fresh session's node turned out to lack
    no-new-privileges, one more on another node, at most one per node (aifo.apply.elsewhere).
    The result and exit code are the last attempt's."""
    from aifo.apply.elsewhere import PlaceAgain, saying
    from aifo.ui.events import JsonLines

    tried: set[str] = set()
    jsonl = JsonLines()
    while True:
        try:
            _attempt(request, opts, jsonl, tried)
            return
        except PlaceAgain as again:
            tried.add(again.node.node_id)
            message = saying(again.node, again.session)
            if opts.output == "json":  # one stream: each attempt's events, this between them
                jsonl.write(
                    {
                        "event": "apply.retry",
                        "message": message,
                        "node": again.node.node,
                        "node_id": again.node.node_id,
                        "attempt": len(tried) + 1,
                    }
                )
            click.echo(message, err=True)


def _attempt(request: ApplyRequest, opts: ApplyOptions, jsonl: JsonLines, tried: set[str]) -> None:
    """One transaction: load, lock, plan, (ask), apply; progress and the summary. PlaceAgain
    (the locks released) when it failed only because its fresh session's node lacks
    no-new-privileges and another node may be tried."""
    from aifo import pipeline
    from aifo.apply.events import Event
    from aifo.apply.request import must_ask
    from aifo.errors import EXIT_FAILED, ApplyFailed
    from aifo.state.specrecord import record_spec_path
    from aifo.ui.errors import render_issues
    from aifo.ui.plan import done_summary, render_plan, write_plan

    assert request.spec_file is not None
    json_out = opts.output == "json"

    def notify(message: str) -> None:
        if json_out:
            jsonl(Event("note", message=message))
        else:
            click.echo(message, err=True)

    # not pinged: connecting costs nothing; one per attempt, so a new attempt's placement is
    # chosen again (a Swarm engine remembers the node it chose for a session)
    engine = pipeline.connect()
    compiled = _load(request, engine)
    if compiled.warnings:
        click.echo(render_issues(compiled.warnings, prefix="warning: "), err=True)
    session = compiled.session
    lock_timeout = opts.lock_timeout
    with pipeline.prepare(engine, compiled, notify=notify, lock_timeout=lock_timeout) as prepared:
        plan = prepared.plan
        if request.saved is not None:
            _check_saved(request, compiled, prepared)
        record_spec_path(session.name, request.spec_file)
        if json_out:
            jsonl.write({"event": "plan", **plan.to_dict()})
        elif sys.stdout.isatty():
            from rich.console import Console

            render_plan(Console(), plan)
        else:
            write_plan(plan)
        if not plan.has_changes and not opts.wait:  # skip the transaction machinery (and rich)
            if json_out:
                jsonl(
                    Event("apply.done", message="no changes", duration_s=0.0, data={"changes": 0})
                )
            return
        asking = must_ask(len(plan.destructive), yes=request.yes, interactive=_interactive())
        if asking and not click.confirm("Replace/remove these objects?", default=False, err=True):
            click.echo("Cancelled; nothing was changed.", err=True)
            click.get_current_context().exit(EXIT_FAILED)  # "no" is not a usage error
        waiting = (opts.wait, opts.wait_timeout)
        try:
            result = _run(engine, compiled, prepared, opts.parallel, json_out, waiting)
        except ApplyFailed as failed:
            from aifo.apply.elsewhere import PlaceAgain, node_to_leave

            node = node_to_leave(failed, prepared.before, tried)
            if node is None:
                raise
            raise PlaceAgain(node, session.name) from failed
    _keep_for_exec(request, compiled, result)
    if not json_out:
        click.echo(done_summary(plan, result.duration_s, waited=opts.wait))


def _keep_for_exec(request: ApplyRequest, compiled: Compiled, result: ApplyResult) -> None:
    """What the next `aifo exec` needs, so the first one after an apply takes the quick way
    (aifo.commands.fastexec): the spec's attach index (its facts come from the spec's inputs
    alone, checked by digest on every read) and the containers this apply verified."""
    from aifo.attach.cache import remember_applied, store

    assert request.spec_file is not None
    session = compiled.session
    store(request.spec_file, request.profiles, request.session, session, compiled.sources)
    remember_applied(session, result.verified)


def _load(request: ApplyRequest, engine: Engine) -> Compiled:
    """The spec; for a saved plan, a spec that no longer validates is a change (exit 1)."""
    from aifo import pipeline
    from aifo.errors import SpecError, StalePlan

    assert request.spec_file is not None
    try:
        return pipeline.load(request.spec_file, request.profiles, request.session, engine=engine)
    except SpecError as exc:
        if request.saved is None:
            raise
        # the plan's MAC shows this user's aifo planned from this very spec: showing it is safe
        raise StalePlan(
            f"the saved plan {request.saved.path} no longer holds; nothing was changed: "
            "the spec changed and is now invalid:",
            items=[str(i) for i in exc.issues],
            hint="fix the spec, then review a new plan: `aifo plan --out PLANFILE`",
        ) from exc


def _check_saved(request: ApplyRequest, compiled: Compiled, prepared: Prepared) -> None:
    """Refuse (exit 1, nothing changed) unless the saved plan still holds, naming what changed."""
    from aifo.plan import saved as savedplan

    assert request.saved is not None and request.spec_file is not None
    now = savedplan.current(
        spec_file=request.spec_file,
        profiles=request.profiles,
        session_override=request.session,
        sources=compiled.sources,
        session=compiled.session,
        snapshot=prepared.before,
        plan=prepared.plan,
    )
    savedplan.require_unchanged(request.saved, now)


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
