"""`aifo run FILE AGENT [-- ARGS]`: start an agent's own command in its running container."""

from __future__ import annotations

import click

from aifo.commands.options import profile_option


@click.command(
    "run", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@profile_option
@click.argument("spec_file", metavar="FILE", type=click.Path(dir_okay=False))
@click.argument("agent")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(spec_file: str, agent: str, args: tuple[str, ...], profiles: tuple[str, ...]) -> None:
    """Run AGENT's `run:` command (e.g. `codex`) with ARGS, interactively.

    The agent's container must be running (`aifo apply FILE`). Its secrets reach the process as
    exec-time environment, never on a command line. A TTY is used when you are at a terminal.
    Exits with the agent's exit code.
    """
    from aifo import attach

    attached = attach.open_target(spec_file, profiles, agent)
    argv = attach.run_argv(attached.target.container, attach.strip_separator(args), spec_file)
    click.get_current_context().exit(attach.exec_in(attached, argv))
