"""`aifo init [FOLDER]`: write a commented starter aifo.yaml for the repository."""

from __future__ import annotations

from typing import Any

import click


@click.command("init")
@click.argument("folder", metavar="[FOLDER]", required=False, default=".")
@click.option(
    "--agent",
    metavar="NAME",
    help="The agent profile to start with (`aifo profiles` lists them), e.g. codex.",
    shell_complete=lambda ctx, param, incomplete: _agents(ctx, param, incomplete),
)
def command(folder: str, agent: str | None) -> None:
    """Write FOLDER/aifo.yaml (default: here): toolchains for the Cargo.toml, package.json,
    pyproject.toml/requirements.txt, go.mod, Makefile/CMakeLists.txt found there, and the
    --agent you name. Refuses to overwrite an existing aifo.yaml. Also writes
    .aifo/session.schema.json, which the file's modeline points editors at. Each toolchain
    gets a commented-out egress block for package installs, with the index this host's own
    tool (pip, npm, go, cargo) uses.
    """
    from pathlib import Path

    from aifo.discovery import DEFAULT_SPEC
    from aifo.errors import UsageError
    from aifo.sessionspec import starter
    from aifo.sessionspec.catalog import builtin_names
    from aifo.sessionspec.shipped import schema_path
    from aifo.suggest import did_you_mean

    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"{folder}: not a folder", hint="create it first, or pick another")
    target = root / DEFAULT_SPEC
    if target.exists():
        raise UsageError(
            f"{target} already exists; aifo init never overwrites it",
            hint="edit it, or move it away and run `aifo init` again",
        )
    if agent is not None:
        agent = agent.removeprefix("agent/")
        agents = [n.removeprefix("agent/") for n in builtin_names() if n.startswith("agent/")]
        if agent not in agents:
            close = did_you_mean(agent, agents)
            raise UsageError(
                f"--agent {agent!r}: no such agent profile" + (f"; {close}" if close else ""),
                hint="agents: " + ", ".join(agents),
            )
    from aifo.engine.hostindex import package_indexes

    found = starter.detect(root)
    indexes = package_indexes([t for t, _ in found])  # this host's own tools say where
    text = starter.render(starter.session_name(root.absolute()), found, agent, indexes)
    schema = root / starter.SCHEMA_COPY
    schema.parent.mkdir(parents=True, exist_ok=True)
    schema.write_bytes(schema_path().read_bytes())
    with target.open("x", encoding="utf-8") as handle:  # "x": never over a file made meanwhile
        handle.write(text)
    tools = ", ".join(f"{t} ({m})" for t, m in found) or "none detected"
    click.echo(f"Wrote {target} (toolchains: {tools}; agent: {agent or 'none'}).")
    click.echo("Next: `aifo validate`, then `aifo plan` and `aifo apply`.")


def _agents(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from aifo.commands.complete import agent_names

    return agent_names(ctx, param, incomplete)
