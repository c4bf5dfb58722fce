"""One module per `aifo` command. Modules import only click at top level (light start-up)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click


def commands() -> tuple[click.Command, ...]:
    """Every subcommand. Imported here, not at package import, so `aifo exec`'s fast path
    (aifo.commands.fastexec) can use the attach wiring without loading the command line."""
    from aifo.commands import (
        apply,
        audit,
        complete,
        config,
        destroy,
        doctor,
        exec_,
        graph,
        init,
        logs,
        ls,
        plan,
        profiles,
        recover,
        run,
        schema,
        shell,
        status,
        validate,
    )

    return (
        validate.command,
        config.command,
        schema.command,
        graph.command,
        plan.command,
        apply.command,
        destroy.command,
        status.command,
        recover.command,
        run.command,
        exec_.command,
        shell.command,
        logs.command,
        audit.command,
        ls.command,
        profiles.command,
        doctor.command,
        init.command,
        complete.command,
    )
