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
    "--detailed-exitcode", is_flag=True, help="Exit 3 when changes are pending (0 when none)."
)
@lock_timeout_option
def command(
    spec_file: str | None,
    session_name: str | None,
    profiles: tuple[str, ...],
    output: str,
    detailed_exitcode: bool,
    lock_timeout: float,
) -> None:
    """Show the actions `aifo apply` would take: + create, ~ replace (with the fields that
    changed), > start, - remove. Ends with the security summary."""
    import json

    from rich.console import Console

    from aifo import pipeline
    from aifo.errors import EXIT_CHANGES
    from aifo.security import summarize
    from aifo.ui.errors import render_issues
    from aifo.ui.plan import render_plan
    from aifo.ui.security import render_security, security_json

    compiled = pipeline.load(
        find_spec_file(spec_file), profiles, session_override(session_name), writes_state=False
    )
    if compiled.warnings:
        click.echo(render_issues(compiled.warnings, prefix="warning: "), err=True)
    engine = pipeline.connect()
    session = compiled.session
    pipeline.recover_unlocked(
        engine, session.name, notify=lambda m: click.echo(m, err=True), lock_timeout=lock_timeout
    )
    plan = pipeline.make_plan(compiled, pipeline.observe(engine, session))
    if output == "json":
        payload = plan.to_dict()
        payload["security"] = security_json(summarize(session))
        click.echo(json.dumps(payload, indent=2))
    else:
        console = Console()
        render_plan(console, plan)
        render_security(console, summarize(session))
    if detailed_exitcode and plan.has_changes:
        click.get_current_context().exit(EXIT_CHANGES)
