"""`aifo status`: each object's state, health and drift, plus name collisions."""

from __future__ import annotations

import click

from aifo.commands.options import lock_timeout_option, profile_option, spec_argument


@click.command("status")
@spec_argument
@profile_option
@lock_timeout_option
@click.option(
    "--output", "-o", type=click.Choice(["text", "json"]), default="text", help="Output format."
)
def command(
    spec_file: str | None,
    session_name: str | None,
    profiles: tuple[str, ...],
    lock_timeout: float,
    output: str,
) -> None:
    """Show the session's objects: state, health, drift from the spec, objects the spec no
    longer declares, and names taken by objects aifo doesn't own. With --session NAME and no
    spec found, the session's objects by their labels alone."""
    import json

    from aifo import pipeline
    from aifo.apply.hold import note_pending
    from aifo.commands.options import session_override, spec_given
    from aifo.commands.options import spec_file as find_spec_file
    from aifo.discovery import find_spec
    from aifo.engine.api import Want
    from aifo.errors import UsageError
    from aifo.plan.status import status_rows
    from aifo.ui.status import render_status

    session_name = session_override(session_name)
    path: str | None
    if spec_file is None and not spec_given() and session_name:
        try:  # by name alone when no spec is around
            path = str(find_spec())
        except UsageError:
            path = None
    else:
        path = find_spec_file(spec_file)
    session = pipeline.load_session(path, profiles, session_name) if path else None
    name = session.name if session else str(session_name)
    engine = pipeline.connect()
    note_pending(name, notify=lambda m: click.echo(m, err=True))
    snap = pipeline.observe(engine, session) if session else engine.observe(name, Want())
    rows = status_rows(snap, session)
    if output == "json":
        click.echo(json.dumps({"session": name, "objects": rows}, indent=2))
        return
    render_status(name, rows)
