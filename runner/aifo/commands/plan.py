"""`aifo plan`: what apply would do, and why, without changing anything."""

from __future__ import annotations

import click

from aifo.commands.options import (
    lock_timeout_option,
    output_option,
    profile_option,
    session_override,
    spec_argument,
)
from aifo.commands.options import spec_file as find_spec_file


@click.command("plan")
@spec_argument
@profile_option
@output_option("text", "json")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Terraform's exit codes: 0 no changes, 1 error (an invalid spec too), 2 changes.",
)
@lock_timeout_option
@click.option(
    "--out",
    "out",
    metavar="PLANFILE",
    type=click.Path(dir_okay=False),  # completes file names
    help="Also save the plan; `aifo apply PLANFILE` then applies exactly it, or refuses if "
    "anything changed since.",
)
def command(
    spec_file: str | None,
    session_name: str | None,
    profiles: tuple[str, ...],
    output: str,
    detailed_exitcode: bool,
    lock_timeout: float,
    out: str | None = None,
) -> None:
    """Show the actions `aifo apply` would take: + create, ~ replace (with the fields that
    changed), * update (network attachments put right in place), > start, - remove. Drift
    (Docker's facts differing from the spec) lists each field, expected and found. Ends with
    the security summary. Changes nothing."""
    import json
    import os
    from pathlib import Path

    from rich.console import Console

    from aifo import pipeline
    from aifo.apply.hold import note_pending
    from aifo.errors import EXIT_CHANGES
    from aifo.plan.security import summarize
    from aifo.sessionspec.hostfacts import written_and_real
    from aifo.ui.errors import render_issues
    from aifo.ui.plan import render_plan
    from aifo.ui.security import render_security, security_json

    path = find_spec_file(spec_file)
    override = session_override(session_name)
    # a saved plan is made for an apply: its digests use the session's real key
    engine = pipeline.connect()  # not pinged: connecting costs nothing
    compiled = pipeline.load(path, profiles, override, writes_state=out is not None, engine=engine)
    if compiled.warnings:
        click.echo(render_issues(compiled.warnings, prefix="warning: "), err=True)
    session = compiled.session
    note_pending(session.name, notify=lambda m: click.echo(m, err=True))
    snapshot = pipeline.observe(engine, session)
    plan = pipeline.make_plan(compiled, snapshot)
    if out is not None:
        from aifo.plan import saved as savedplan

        saved = savedplan.current(
            spec_file=path,
            profiles=profiles,
            session_override=override,
            sources=compiled.sources,
            session=session,
            snapshot=snapshot,
            plan=plan,
        )
        savedplan.write(out, saved)
    homes = written_and_real(Path(os.environ.get("HOME") or Path.home()))  # whose credentials count
    if output == "json":
        payload = plan.to_dict()
        payload["security"] = security_json(summarize(session, homes))
        click.echo(json.dumps(payload, indent=2))
    else:
        console = Console()
        render_plan(console, plan)
        render_security(console, summarize(session, homes))
    if out is not None and output != "json":
        click.echo(f"Saved the plan to {out}; `aifo apply {out}` applies exactly it.")
    if detailed_exitcode and plan.has_changes:
        click.get_current_context().exit(EXIT_CHANGES)
