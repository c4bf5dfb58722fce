"""`aifo destroy`: remove a session's Docker objects, found by label (the spec may be gone)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from aifo.commands.options import lock_timeout_option, spec_argument

if TYPE_CHECKING:
    from aifo.apply.events import Emit
    from aifo.engine.api import Labelled


@contextmanager
def _progress(shown: bool) -> Iterator[Emit]:
    """Live progress on stderr (rich on a terminal, plain lines otherwise), or none."""
    from aifo.apply.events import ignore

    if not shown:
        yield ignore
        return
    from aifo.ui.lines import stderr_progress

    with stderr_progress() as progress:
        yield progress


@click.command("destroy")
@spec_argument
@click.option("--volumes", is_flag=True, help="Also remove the session's (non-external) volumes.")
@click.option("--yes", "-y", is_flag=True, help="Don't ask (required without a terminal).")
@click.option(
    "--timeout",
    "-t",
    "timeout_s",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    metavar="S",
    help="Seconds each container gets to exit after SIGTERM before it is killed.",
)
@lock_timeout_option
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option(
    "--output", "-o", type=click.Choice(["text", "json"]), default="text", help="Output format."
)
def command(
    spec_file: str | None,
    session_name: str | None,
    volumes: bool,
    yes: bool,
    timeout_s: float,
    lock_timeout: float,
    output: str,
    dry_run: bool = False,
) -> None:
    """Stop (dependents first) and remove every container labelled with the session (of the
    spec, or --session NAME: then no spec is needed), then its networks, then its volumes with
    --volumes. Never touches external or unlabelled objects. Idempotent."""
    import json

    from aifo import pipeline
    from aifo.apply.cancel import interrupt_on_sigterm
    from aifo.commands.options import session_override
    from aifo.commands.options import spec_file as find_spec_file
    from aifo.errors import EXIT_FAILED, EXIT_INTERRUPTED, UsageError

    session_name = session_override(session_name)
    if session_name is None:
        from aifo.commands.options import layers_under

        name = pipeline.session_of(find_spec_file(spec_file), None, layers_under())
    else:
        name = session_name
    engine = pipeline.connect()
    if dry_run:
        _dry_run(engine.labelled(name), name, volumes=volumes, json_out=output == "json")
        return
    notify = lambda m: click.echo(m, err=True)  # noqa: E731
    with pipeline.prepare_destroy(engine, name, notify=notify, lock_timeout=lock_timeout) as snap:
        doomed = [*sorted(snap.containers), *sorted(snap.networks)]
        doomed += sorted(snap.volumes) if volumes else []
        if doomed and not yes:
            if not (sys.stdin.isatty() and sys.stdout.isatty()):
                raise UsageError(
                    f"destroy would remove {len(doomed)} object(s) of session {name!r}",
                    hint="pass --yes to allow it without a terminal",
                )
            click.echo("\n".join(f"  - {d}" for d in doomed), err=True)
            if not click.confirm(f"Destroy session {name!r}?", default=False, err=True):
                click.echo("Cancelled; nothing was removed.", err=True)
                click.get_current_context().exit(EXIT_FAILED)  # "no" is not a usage error
        try:
            with interrupt_on_sigterm(), _progress(output == "text" and bool(doomed)) as emit:
                result = pipeline.execute_destroy(
                    engine, name, snap, volumes=volumes, timeout_s=timeout_s, emit=emit
                )
        except KeyboardInterrupt:
            click.echo(
                f"error: destroy of session {name!r} interrupted; some objects may remain"
                f"\n  hint: run `aifo destroy` again to finish (it is idempotent)",
                err=True,
            )
            click.get_current_context().exit(EXIT_INTERRUPTED)
    if output == "json":
        payload = {
            "session": name,
            "containers": list(result.containers),
            "networks": list(result.networks),
            "volumes": list(result.volumes),
            "kept_volumes": list(result.kept_volumes),
        }
        click.echo(json.dumps(payload, indent=2))
        return
    if not result.removed:
        click.echo(f"Session {name!r}: nothing to destroy.")
    else:
        click.echo(
            f"Destroyed session {name!r}: {len(result.containers)} container(s), "
            f"{len(result.networks)} network(s), {len(result.volumes)} volume(s)."
        )
    if result.kept_volumes:
        click.echo(f"Kept {len(result.kept_volumes)} volume(s); pass --volumes to remove them.")


def _dry_run(found: Labelled, name: str, *, volumes: bool, json_out: bool) -> None:
    """`destroy --dry-run`: what would go (and which volumes would stay), changing nothing."""
    import json

    gone = {
        "containers": sorted(found.containers),
        "networks": sorted(found.networks),
        "volumes": sorted(found.volumes) if volumes else [],
    }
    kept = [] if volumes else sorted(found.volumes)
    if json_out:
        click.echo(json.dumps({"session": name, "would_remove": gone, "kept_volumes": kept}))
        return
    doomed = [f"{kind[:-1]} {n}" for kind, names in gone.items() for n in names]
    if not doomed:
        click.echo(f"Session {name!r}: nothing to destroy.")
        return
    click.echo(f"Would destroy session {name!r}:")
    click.echo("\n".join(f"  - {d}" for d in doomed))
    if kept:
        click.echo(f"Would keep {len(kept)} volume(s); --volumes removes them too.")
