"""`aifo run [FILE] AGENT [-- ARGS]`: start an agent's own command in its running container."""

from __future__ import annotations

import click

from aifo.commands.options import profile_option, session_option, target_words


@click.command(
    "run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@profile_option
@session_option
@target_words("[FILE] AGENT [--] [ARGS]...", unprocessed=True)
def command(words: tuple[str, ...], profiles: tuple[str, ...], session_name: str | None) -> None:
    """Run AGENT's `run:` command (e.g. `codex`) with ARGS, interactively.

    The agent's container must be running (`aifo apply`). Its secrets reach the process as
    exec-time environment, never on a command line. A TTY is used when you are at a terminal.
    Exits with the agent's exit code.
    """
    from aifo.attach import execargs
    from aifo.attach import lookup as attach
    from aifo.commands import attaching
    from aifo.commands.options import session_override, spec_file, spec_given
    from aifo.discovery import split_target

    given, agent, args = split_target(words, file_given=spec_given())
    assert agent is not None
    path = spec_file(given)
    attached = attaching.open_target(path, profiles, agent, session=session_override(session_name))
    argv = attach.run_argv(attached.target.container, execargs.strip_separator(args), path)
    click.get_current_context().exit(attaching.exec_in(attached, argv))
