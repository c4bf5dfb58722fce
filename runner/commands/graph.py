"""`aifo graph`: the session's resources and their dependencies."""

from __future__ import annotations

import sys

import click

from runner.commands.options import profile_option, spec_argument


@click.command("graph")
@spec_argument
@profile_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["tree", "dot", "mermaid", "json"]),
    default=None,
    help="Output format [default: tree on a terminal, json otherwise].",
)
def command(spec_file: str, profiles: tuple[str, ...], fmt: str | None) -> None:
    """Show the resource graph of FILE: what depends on what, and the apply layers."""
    from runner import graph
    from runner.compile import compile_session
    from runner.hostcontext import host_context
    from runner.spec import resolve
    from runner.ui import graph as render

    resolved = resolve(spec_file, profiles)
    session = compile_session(resolved, context=host_context(resolved.data["session"]))
    order = graph.layers(session, locate=resolved.location)
    edges = graph.edges(session)
    fmt = fmt or ("tree" if sys.stdout.isatty() else "json")
    if fmt == "json":
        click.echo(render.to_json(session, edges, order))
    elif fmt == "dot":
        click.echo(render.to_dot(session, edges))
    elif fmt == "mermaid":
        click.echo(render.to_mermaid(session, edges))
    else:
        render.print_tree(session, edges, rich=sys.stdout.isatty())
