"""`aifo doctor`: can aifo work here? Failures (exit 1) and warnings (exit 0), each with a fix."""

from __future__ import annotations

import click

from aifo.commands.options import output_option

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aifo.engine.doctor import Check
    from aifo.ui.failure import Failure

_MARK = {"ok": "ok", "info": "--", "warning": "warn", "failure": "FAIL"}


@click.command("doctor")
@output_option("text", "json")
def command(output: str) -> None:
    """Check the engine (reachable, version and API, storage driver, internal networks,
    seccomp/AppArmor, rootless, buildx), seeded offline images and the state folder.

    Exit 1 when something stops aifo from working; warnings only limit it (exit 0).
    """
    import json
    import shutil
    import textwrap

    from aifo.engine import doctor
    from aifo.engine.api import EngineFacts
    from aifo.engine.choose import connect, engine_name
    from aifo.state.folder import state_root
    from aifo.ui.table import width

    engine = engine_name()
    cli_name = "docker" if engine == "swarm" else engine  # Swarm's nodes: the docker CLI
    docker_cli = shutil.which(cli_name) is not None
    if docker_cli:
        facts = connect().facts()
    else:
        facts = EngineFacts(
            engine=cli_name.capitalize(), error=f"the `{cli_name}` command is not on PATH"
        )
    root = state_root()
    found = doctor.checks(
        facts, docker_cli=docker_cli, state=root, state_error=doctor.writable(root)
    )
    failures = sum(c.status == "failure" for c in found)
    warnings = sum(c.status == "warning" for c in found)
    if output == "json":
        payload: dict[str, object] = {
            "checks": [c.to_dict() for c in found],
            "failures": failures,
            "warnings": warnings,
        }
        if failures:  # the one error shape of every failing command (docs/cli.md)
            payload.update(_failure(found).to_dict())
        click.echo(json.dumps(payload, indent=2))
    else:
        room = max(width(), 60)
        for check in found:
            head = f"{_MARK[check.status]:<5}{check.name}: "
            click.echo(
                textwrap.fill(
                    check.detail,
                    room,
                    initial_indent=head,
                    subsequent_indent=" " * 7,
                    break_on_hyphens=False,
                )
            )
            if check.fix:
                click.echo(
                    textwrap.fill(
                        check.fix, room, initial_indent="     fix: ", subsequent_indent=" " * 10
                    )
                )
        click.echo(f"Checked {len(found)} things: {failures} failure(s), {warnings} warning(s).")
    click.get_current_context().exit(doctor.exit_code(found))


def _failure(found: list[Check]) -> Failure:
    from aifo.errors import EXIT_FAILED
    from aifo.ui.failure import Failure, item

    failed = [c for c in found if c.status == "failure"]
    return Failure(
        "checks-failed",
        f"{len(failed)} check(s) failed: aifo cannot work here yet",
        EXIT_FAILED,
        hint=failed[0].fix,
        items=tuple(item(f"{c.name}: {c.detail}", hint=c.fix) for c in failed),
    )
