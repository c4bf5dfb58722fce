"""`aifo shell FILE NAME`: an interactive shell in a running container."""

from __future__ import annotations

import click

from aifo.commands.options import profile_option


@click.command("shell")
@click.option("--user", "-u", metavar="USER", help="uid[:gid] or name; default: the container's.")
@profile_option
@click.argument("spec_file", metavar="FILE", type=click.Path(dir_okay=False))
@click.argument("name")
def command(spec_file: str, name: str, user: str | None, profiles: tuple[str, ...]) -> None:
    """Open a shell (bash when the image has it, else sh) in container NAME."""
    from aifo import attach

    attached = attach.open_target(spec_file, profiles, name)
    click.get_current_context().exit(attach.exec_in(attached, attach.SHELL_ARGV, user=user))
