"""`aifo logs [FILE] [NAME] [-f] [--tail N]`."""

from __future__ import annotations

import click

from aifo.commands.options import profile_option, session_option, target_words


@click.command("logs")
@click.option("--follow", "-f", is_flag=True, help="Keep streaming new output.")
@click.option(
    "--tail", "-n", type=click.IntRange(min=0), metavar="N", help="Only the last N lines."
)
@profile_option
@session_option
@target_words("[FILE] [NAME]")
def command(
    words: tuple[str, ...],
    follow: bool,
    tail: int | None,
    profiles: tuple[str, ...],
    session_name: str | None,
) -> None:
    """Print the logs of container NAME, or of every container of the session."""
    from aifo.attach import lookup as attach
    from aifo.commands import attaching
    from aifo.commands.options import session_override, spec_file, spec_given
    from aifo.discovery import split_target
    from aifo.errors import UsageError
    from aifo.ui.stream import write_bytes

    given, name, rest = split_target(words, file_given=spec_given(), needs_name=False)
    if rest:
        raise UsageError(f"unexpected {rest[0]!r}", hint="aifo logs [FILE] [NAME] [-f]")
    path = spec_file(given)
    engine, session = attaching.open_session(path, profiles, session=session_override(session_name))
    if name is not None:
        targets = [attach.locate(engine, session, name, path, running=False)]
    else:
        targets = attach.locate_all(engine, session, path)
    # By name, not id: with several containers, each line is prefixed with what it's given.
    refs = [t.container.docker_name for t in targets]
    code = engine.logs(refs, write=write_bytes, follow=follow, tail=tail)
    click.get_current_context().exit(code)
