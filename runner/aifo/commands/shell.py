"""`aifo shell [FILE] NAME`: an interactive shell in a running container."""

from __future__ import annotations

import click

from aifo.commands.options import profile_option, session_option, target_words


@click.command("shell")
@click.option("--user", "-u", metavar="USER", help="uid[:gid] or name; default: the container's.")
@profile_option
@session_option
@target_words("[FILE] NAME")
def command(
    words: tuple[str, ...], user: str | None, profiles: tuple[str, ...], session_name: str | None
) -> None:
    """Open a shell (bash when the image has it, else sh) in container NAME."""
    from aifo.attach import lookup as attach
    from aifo.commands import attaching
    from aifo.commands.options import session_override, spec_file, spec_given
    from aifo.discovery import split_target
    from aifo.errors import UsageError

    given, name, rest = split_target(words, file_given=spec_given())
    assert name is not None
    if rest:
        raise UsageError(f"unexpected {rest[0]!r}", hint="aifo shell [FILE] NAME")
    attached = attaching.open_target(
        spec_file(given), profiles, name, session=session_override(session_name)
    )
    click.get_current_context().exit(attaching.exec_in(attached, attach.SHELL_ARGV, user=user))
