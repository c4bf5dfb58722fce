"""One module per `aifo` command. Modules import only click at top level (light start-up)."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: `aifo exec`'s fast path does not load typing (mypy knows)

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

    found = (
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
    for command in found:  # whole in `aifo --help` at 80 columns (click cuts long ones)
        command.short_help = SUMMARY[command.name or ""]
    return found


SUMMARY = {
    "validate": "Check specs; every error as FILE:LINE:COL.",
    "config": "Print the resolved spec, secrets masked.",
    "schema": "Print the JSON Schema of aifo.yaml (or of a profile).",
    "graph": "Show the resources, their dependencies and apply order.",
    "plan": "Show what apply would do and why (--out: save it).",
    "apply": "Make Docker match the spec, all or nothing.",
    "destroy": "Remove the session's containers, networks (and volumes).",
    "status": "Show each object's state, health and drift.",
    "recover": "Finish or roll back an apply that died.",
    "run": "Run an agent's own command in its container.",
    "exec": "Run a command in a running container.",
    "shell": "Open a shell in a running container.",
    "logs": "Print or follow containers' logs.",
    "audit": "Print the session's audit log.",
    "ls": "List the sessions on this engine.",
    "profiles": "List the profiles extends: can name.",
    "doctor": "Check that aifo can work on this machine.",
    "init": "Write a starter aifo.yaml for this repository.",
    "completion": "Print the shell completion script.",
}
