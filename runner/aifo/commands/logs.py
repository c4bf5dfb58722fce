"""`aifo logs FILE [NAME] [-f] [--tail N]`."""

from __future__ import annotations

import click

from aifo.commands.options import profile_option


@click.command("logs")
@click.option("--follow", "-f", is_flag=True, help="Keep streaming new output.")
@click.option(
    "--tail", "-n", type=click.IntRange(min=0), metavar="N", help="Only the last N lines."
)
@profile_option
@click.argument("spec_file", metavar="FILE", type=click.Path(dir_okay=False))
@click.argument("name", required=False)
def command(
    spec_file: str,
    name: str | None,
    follow: bool,
    tail: int | None,
    profiles: tuple[str, ...],
) -> None:
    """Print the logs of container NAME, or of every container of the session."""
    from aifo import attach

    engine, session = attach.open_session(spec_file, profiles)
    if name is not None:
        targets = [attach.locate(engine, session, name, spec_file, running=False)]
    else:
        targets = attach.locate_all(engine, session, spec_file)
    # By name, not id: with several containers, each line is prefixed with what it's given.
    code = engine.logs([t.container.docker_name for t in targets], follow=follow, tail=tail)
    click.get_current_context().exit(code)
