"""One module per `aifo` command. Modules import only click at top level (light start-up)."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: `aifo exec`'s fast path does not load typing (mypy knows)

if TYPE_CHECKING:
    import click


# Each command's module, in `aifo --help`'s order: a command's module is imported only when
# that command runs (or help lists it), so `aifo apply` loads none of the other 18.
MODULES = {
    "validate": "validate",
    "config": "config",
    "schema": "schema",
    "graph": "graph",
    "plan": "plan",
    "apply": "apply",
    "destroy": "destroy",
    "status": "status",
    "recover": "recover",
    "run": "run",
    "exec": "exec_",
    "shell": "shell",
    "logs": "logs",
    "audit": "audit",
    "ls": "ls",
    "fork": "fork",
    "workspace": "workspace",
    "profiles": "profiles",
    "doctor": "doctor",
    "init": "init",
    "completion": "complete",
}


def load(name: str) -> click.Command | None:
    """The subcommand NAME (its module imported now), None when there is none."""
    module = MODULES.get(name)
    if module is None:
        return None
    from importlib import import_module

    command: click.Command = import_module(f"aifo.commands.{module}").command
    command.short_help = SUMMARY[name]  # whole in `aifo --help` at 80 columns (click cuts)
    return command


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
    "fork": "Run the task in N forks (own clones); merge the best.",
    "workspace": "Fetch the workspace's branch back from a Swarm node.",
    "profiles": "List the profiles extends: can name.",
    "doctor": "Check that aifo can work on this machine.",
    "init": "Write a starter aifo.yaml for this repository.",
    "completion": "Print the shell completion script.",
}
