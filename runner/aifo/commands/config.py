"""`aifo config`: print the resolved spec (profiles merged, ${VAR} filled in, secrets masked)."""

from __future__ import annotations

import click

from aifo.commands.options import output_option, profile_option, session_override, spec_argument
from aifo.commands.options import spec_file as find_spec_file


@click.command("config")
@spec_argument
@profile_option
@click.option("--explain", is_flag=True, help="Show after each value the FILE:LINE that set it.")
@output_option("yaml", "json", default="yaml")
def command(
    spec_file: str | None,
    session_name: str | None,
    profiles: tuple[str, ...],
    explain: bool,
    output: str,
) -> None:
    """Print the resolved spec (profiles merged, ${VAR} filled in); secret values read ***."""
    import json

    from aifo.pipeline import resolve
    from aifo.route.table import route_lines, route_map
    from aifo.sessionspec.nodes import format_path
    from aifo.sessionspec.render import explain as render_explained
    from aifo.sessionspec.render import to_yaml
    from aifo.sessionspec.secrets import mask
    from aifo.ui.errors import render_issues

    spec = resolve(find_spec_file(spec_file), profiles, session_override(session_name))
    if spec.warnings:
        click.echo(render_issues(spec.warnings, prefix="warning: "), err=True)
    data = mask(spec.data)
    routes = route_map(spec.data)
    if output == "json":
        payload: object = data
        if explain:
            provenance = {
                format_path(path): str(loc) for path, loc in spec.provenance.items() if path
            }
            payload = {"spec": data, "provenance": provenance, "routes": routes}
        click.echo(json.dumps(payload, indent=2))
    elif explain:
        click.echo(render_explained(spec), nl=False)
        if routes:
            click.echo("# routes (tool -> toolchain; the agent's first toolchain with it wins):")
            click.echo("\n".join(f"#   {line}" for line in route_lines(routes)))
    else:
        click.echo(to_yaml(data), nl=False)
