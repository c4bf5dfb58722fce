"""`aifo config`."""

from __future__ import annotations

import click

from runner.commands.options import not_implemented


@click.command("config", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args: tuple[str, ...]) -> None:
    """Not implemented yet."""
    not_implemented("config")
