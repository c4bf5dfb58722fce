"""The `aifo` command line. Thin: parse, call one stage function, render, pick the exit code.

Start-up stays light: command modules import their heavy dependencies inside the command body, so
`aifo --version` and `aifo --help` never load python-on-whales, networkx or jsonschema.
"""

from __future__ import annotations

import sys
import traceback
from datetime import UTC, datetime

import click

from aifo import __version__
from aifo.commands import commands
from aifo.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, AifoError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", "-V", prog_name="aifo", message="%(prog)s %(version)s"
)
@click.option(
    "--file",
    "-f",
    "spec_file",
    metavar="FILE",
    help="The spec (a file, or a folder holding aifo.yaml). "
    "Default: aifo.yaml here or in the nearest parent folder.",
)
@click.option(
    "--session",
    metavar="NAME",
    help="Work on session NAME instead of the spec's `session:` (one spec, many sessions).",
)
@click.pass_context
def cli(ctx: click.Context, spec_file: str | None, session: str | None) -> None:
    """Declarative, transactional runner for coding-agent environments on Docker.

    \b
    Exit codes: 0 success; 1 the operation failed (and was rolled back), or
    you answered no; 2 invalid spec or usage; 3 `plan --detailed-exitcode` found
    pending changes; 130 interrupted (Ctrl-C).
    """
    from aifo.commands.options import Globals

    ctx.obj = Globals(file=spec_file, session=session)


for _command in commands():
    cli.add_command(_command)


def _write_debug_log(exc: BaseException) -> str:
    from aifo.state import debug_dir

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = debug_dir() / f"aifo-{stamp}.log"
    text = "".join(traceback.format_exception(exc))
    path.write_text(f"aifo {__version__}\nargv: {sys.argv!r}\n\n{text}", encoding="utf-8")
    return str(path)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: expected errors print cleanly; unexpected ones leave a debug log."""
    try:
        code = cli.main(args=argv, prog_name="aifo", standalone_mode=False)
    except AifoError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_INVALID if isinstance(exc, click.UsageError) else exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - the last line of defence, by design
        try:
            where = _write_debug_log(exc)
        except OSError:
            where = "(could not write a debug log)"
        click.echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            f"A debug log was written to {where}\n"
            "This is a bug in aifo; please report it with that log.",
            err=True,
        )
        sys.exit(EXIT_FAILED)
    sys.exit(code if isinstance(code, int) else 0)
