"""`aifo profiles`: the catalog a spec's `extends:` can name, and where each comes from."""

from __future__ import annotations

import click

from aifo.commands.options import output_option


@click.command("profiles")
@output_option("text", "json")
def command(output: str) -> None:
    """List the profiles `extends:` can name: built-in ones, and the repository's own in
    `.aifo/profiles/` beside the spec (they win over built-in ones of the same name)."""
    import json
    from pathlib import Path

    from aifo.commands.options import spec_file
    from aifo.errors import UsageError
    from aifo.sessionspec.catalog import profiles
    from aifo.ui.table import render

    try:
        spec_dir: Path | None = Path(spec_file()).absolute().parent
    except UsageError:
        spec_dir = None  # no spec around: the built-in catalog only
    found = profiles(spec_dir)
    if output == "json":
        rows = [
            {
                "name": p.name,
                "description": p.description,
                "source": p.source,
                "path": str(p.path),
                "shadows_builtin": p.shadows,
            }
            for p in found
        ]
        click.echo(json.dumps({"profiles": rows}, indent=2))
        return
    table = [
        [p.name, p.source + (" (over built-in)" if p.shadows else ""), p.description] for p in found
    ]
    for line in render(["PROFILE", "FROM", "DESCRIPTION"], table):
        click.echo(line)
