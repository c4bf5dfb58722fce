"""`aifo schema`: print the session spec's JSON Schema (the single source of truth)."""

from __future__ import annotations

import click


@click.command("schema")
def command() -> None:
    """Print the JSON Schema of aifo.yaml (for editors: yaml-language-server)."""
    from aifo.resources import schema_path

    click.echo(schema_path().read_text(encoding="utf-8"), nl=False)
