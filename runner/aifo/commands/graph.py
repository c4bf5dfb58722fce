"""`aifo graph`: the session's resources and their dependencies."""

from __future__ import annotations

import click

from aifo.commands.options import profile_option, session_override, spec_argument
from aifo.commands.options import spec_file as find_spec_file


@click.command("graph")
@spec_argument
@profile_option
@click.option(
    "--format",
    "--output",
    "-o",
    "fmt",
    type=click.Choice(["tree", "json", "dot", "mermaid"]),
    default="tree",
    show_default=True,
    help="tree: for people (plain text when not on a terminal); json: stable, for tools; "
    "dot: Graphviz; mermaid: for Markdown.",
)
def command(
    spec_file: str | None, session_name: str | None, profiles: tuple[str, ...], fmt: str
) -> None:
    """Show the resource graph of the spec: what depends on what, and the apply layers.

    Exit code 2 when the spec is invalid or has a dependency cycle.
    """
    from rich.console import Console

    from aifo.compile import compile_session
    from aifo.compile.hostcontext import host_context
    from aifo.model import graph
    from aifo.pipeline import engine_apparmor, resolve
    from aifo.state.folder import cache_dir
    from aifo.ui import graph as render

    resolved = resolve(find_spec_file(spec_file), profiles, session_override(session_name))
    # The host context digests secrets with the session's key and takes the engine's
    # AppArmor answer from the cache (graph never asks Docker), so the hashes shown are
    # exactly the ones `aifo apply` will write to labels.
    apparmor = engine_apparmor(cache_dir("engine", create=False), ask=False)
    context = host_context(resolved.data["session"], apparmor=apparmor, writes_state=False)
    session = compile_session(resolved, context=context)
    order = graph.layers(session, locate=resolved.location)
    edges = graph.edges(session)
    console = Console()
    if fmt == "json":
        click.echo(render.to_json(session, edges, order))
    elif fmt == "dot":
        click.echo(render.to_dot(session, edges))
    elif fmt == "mermaid":
        click.echo(render.to_mermaid(session, edges))
    elif console.is_terminal:
        render.print_tree(session, edges, order, console)
    else:
        click.echo(render.to_tree_text(session, edges, order))
