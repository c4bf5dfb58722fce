"""`aifo exec FILE NAME [--user U] [--workdir W] [--env K=V]... [--] CMD...`."""

from __future__ import annotations

import click

from aifo.commands.options import profile_option


@click.command(
    "exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@click.option("--user", "-u", metavar="USER", help="uid[:gid] or name; default: the container's.")
@click.option("--workdir", "-w", metavar="DIR", help="Working folder; default: the container's.")
@click.option("--env", "-e", "env", multiple=True, metavar="K=V", help="Extra variable (repeat).")
@profile_option
@click.argument("spec_file", metavar="FILE", type=click.Path(dir_okay=False))
@click.argument("name")
@click.argument("rest", nargs=-1, type=click.UNPROCESSED, metavar="[OPTIONS] [--] CMD...")
def command(
    spec_file: str,
    name: str,
    rest: tuple[str, ...],
    user: str | None,
    workdir: str | None,
    env: tuple[str, ...],
    profiles: tuple[str, ...],
) -> None:
    """Run CMD in container NAME of the applied session; exit with CMD's exit code.

    Options may follow NAME, as with `docker exec`; the first other word starts CMD (use `--`
    when CMD starts with a dash). The container's secrets reach CMD as exec-time environment;
    a TTY is used only when stdin and stdout are terminals.
    """
    from aifo import attach

    parsed = attach.split_exec_args(rest)
    extra = attach.parse_env((*env, *parsed.env))
    attached = attach.open_target(spec_file, profiles, name)
    code = attach.exec_in(
        attached,
        parsed.cmd,
        user=parsed.user or user,
        workdir=parsed.workdir or workdir,
        extra_env=extra,
    )
    click.get_current_context().exit(code)
