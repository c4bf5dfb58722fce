"""`aifo schema`: print the session spec's JSON Schema (the single source of truth)."""

from __future__ import annotations

import click


@click.command("schema")
@click.option(
    "--profile",
    "profile",
    is_flag=True,
    help="The schema of a profile fragment (every key optional) instead of a session spec.",
)
def command(profile: bool) -> None:
    """Print the JSON Schema of aifo.yaml (for editors: yaml-language-server)."""
    from aifo.sessionspec.shipped import schema_path

    path = schema_path("profile" if profile else "session")
    click.echo(path.read_text(encoding="utf-8"), nl=False)
