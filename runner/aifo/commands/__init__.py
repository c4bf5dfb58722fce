"""One module per `aifo` command. Modules import only click at top level (light start-up)."""

from __future__ import annotations

import click

from aifo.commands import (
    apply,
    audit,
    config,
    destroy,
    exec_,
    graph,
    logs,
    plan,
    recover,
    run,
    schema,
    shell,
    status,
    validate,
)

COMMANDS: tuple[click.Command, ...] = (
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
)
