"""`aifo exec [FILE] NAME [--user U] [--workdir W] [--env K=V]... [--] CMD...`."""

from __future__ import annotations

import click

from aifo.commands.options import profile_option, session_option, target_words


@click.command(
    "exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@click.option("--user", "-u", metavar="USER", help="uid[:gid] or name; default: the container's.")
@click.option("--workdir", "-w", metavar="DIR", help="Working folder; default: the container's.")
@click.option("--env", "-e", "env", multiple=True, metavar="K=V", help="Extra variable (repeat).")
@profile_option
@session_option
@target_words("[FILE] NAME [--] CMD...", unprocessed=True)
def command(
    words: tuple[str, ...],
    user: str | None,
    workdir: str | None,
    env: tuple[str, ...],
    profiles: tuple[str, ...],
    session_name: str | None,
) -> None:
    """Run CMD in container NAME of the applied session; exit with CMD's exit code.

    The spec is FILE (the form `aifo exec FILE NAME ...`), `aifo -f FILE exec NAME ...`, or the
    nearest aifo.yaml. Options may follow NAME, as with `docker exec`; the first other word
    starts CMD (use `--` when CMD starts with a dash). The container's secrets reach CMD as
    exec-time environment; a TTY is used only when stdin and stdout are terminals.
    """
    from aifo.attach import execargs
    from aifo.commands import attaching
    from aifo.commands.options import session_override, spec_file, spec_given
    from aifo.discovery import split_target

    given, name, rest = split_target(words, file_given=spec_given())
    assert name is not None
    parsed = execargs.split_exec_args(rest)
    extra = execargs.parse_env((*env, *parsed.env))
    attached = attaching.open_target(
        spec_file(given), profiles, name, session=session_override(session_name)
    )
    code = attaching.exec_in(
        attached,
        parsed.cmd,
        user=parsed.user or user,
        workdir=parsed.workdir or workdir,
        extra_env=extra,
    )
    click.get_current_context().exit(code)
