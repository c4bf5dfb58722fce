"""`aifo validate`: check specs (schema, references, mount policy); report every located error."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from aifo.errors import SpecError
    from aifo.sessionspec import ResolvedSpec

from aifo.commands.options import (
    output_option,
    profile_option,
    session_override,
    spec_file,
    spec_files_argument,
)


@click.command("validate")
@spec_files_argument
@profile_option
@output_option("text", "json")
def command(
    spec_files: tuple[str, ...], session_name: str | None, profiles: tuple[str, ...], output: str
) -> None:
    """Validate FILE... (files or folders; default: the nearest aifo.yaml): print `FILE: ok`
    or every error, FILE:LINE:COL.

    Exit code 2 when any file is invalid.
    """
    import json

    from aifo.errors import EXIT_INVALID, SpecError
    from aifo.sessionspec import load_all
    from aifo.state.folder import state_root
    from aifo.ui.errors import issue_dict, render_issues, summary

    paths = [spec_file(f) for f in spec_files] if spec_files else [spec_file()]
    session = session_override(session_name)
    loaded = load_all(paths, profiles, state_dir=state_root())
    results = [(f, _check_graph(_named(r, session))) for f, r in loaded]
    invalid = any(isinstance(r, SpecError) for _f, r in results)
    if output == "json":
        files = []
        for file, result in results:
            errors = result.issues if isinstance(result, SpecError) else ()
            warnings = () if isinstance(result, SpecError) else result.warnings
            files.append(
                {
                    "file": file,
                    "valid": not isinstance(result, SpecError),
                    "errors": [issue_dict(i) for i in errors],
                    "warnings": [issue_dict(i) for i in warnings],
                }
            )
        report: dict[str, object] = {"files": files}
        if invalid:  # the one error shape of every failing command (docs/cli.md)
            from aifo.ui.failure import of_error

            issues = [i for _f, r in results if isinstance(r, SpecError) for i in r.issues]
            report.update(of_error(SpecError(issues)).to_dict())
        click.echo(json.dumps(report, indent=2))
    else:
        for file, result in results:
            if isinstance(result, SpecError):
                click.echo(render_issues(result.issues))
                click.echo(f"{file}: invalid ({summary(len(result.issues))})")
            else:
                if result.warnings:
                    click.echo(render_issues(result.warnings, prefix="warning: "))
                click.echo(f"{file}: ok")
    if invalid:
        click.get_current_context().exit(EXIT_INVALID)


def _named(result: ResolvedSpec | SpecError, session: str | None) -> ResolvedSpec | SpecError:
    """`--session NAME` replaces the spec's `session:` (as every command does)."""
    from dataclasses import replace

    from aifo.errors import SpecError

    if session is None or isinstance(result, SpecError):
        return result
    return replace(result, data={**result.data, "session": session})


def _check_graph(result: ResolvedSpec | SpecError) -> ResolvedSpec | SpecError:
    """Past the spec stage, a spec must also compile and have no dependency cycle."""
    from aifo.compile import check_context, compile_session
    from aifo.errors import SpecError
    from aifo.pipeline import layers

    if isinstance(result, SpecError):
        return result
    try:
        session = compile_session(result, context=check_context())
        layers(session, locate=result.location)
    except SpecError as exc:
        return exc
    return result
