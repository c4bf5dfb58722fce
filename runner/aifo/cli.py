"""The `aifo` command line. Thin: parse, call one stage function, render, pick the exit code.

Start-up stays light: command modules import their heavy dependencies inside the command body, so
`aifo --version` and `aifo --help` never load python-on-whales, networkx or jsonschema.
"""

from __future__ import annotations

import atexit
import gc
import sys

import click

from aifo import __version__
from aifo import commands as subcommands
from aifo.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, AifoError, SpecError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aifo.ui.failure import Failure


class _Commands(click.Group):
    """The subcommands of aifo.commands.MODULES, each imported when it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*subcommands.MODULES, *(n for n in self.commands if n not in subcommands.MODULES)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self.commands.get(cmd_name) or subcommands.load(cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            from aifo.errors import UsageError
            from aifo.suggest import did_you_mean

            hint = did_you_mean(name, self.list_commands(ctx), "see `aifo --help`")
            raise UsageError(f"no command {name!r}", hint=hint)
        return super().resolve_command(ctx, args)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", "-V", prog_name="aifo", message="%(prog)s %(version)s"
)
@click.option(
    "--file",
    "-f",
    "spec_files",
    metavar="FILE",
    multiple=True,
    type=click.Path(),  # completes file names
    help="The spec (a file, or a folder holding aifo.yaml). Repeatable, as in Compose: later "
    "files override earlier ones. Default: aifo.yaml here or in the nearest parent folder.",
)
@click.option(
    "--session",
    metavar="NAME",
    help="Work on session NAME instead of the spec's `session:` (one spec, many sessions).",
)
@click.option(
    "--engine",
    type=click.Choice(["docker", "podman", "swarm"]),
    # no envvar=: the environment is read in one place, aifo.engine.choose
    help="The container engine (default: $AIFO_ENGINE, else docker).",
)
@click.pass_context
def cli(
    ctx: click.Context, spec_files: tuple[str, ...], session: str | None, engine: str | None
) -> None:
    """Declarative, transactional runner for coding-agent environments on Docker.

    \b
    Exit codes: 0 success; 1 the operation failed (and was rolled back), or
    you answered no; 2 invalid spec or usage; 130 interrupted (Ctrl-C).
    `plan --detailed-exitcode`: Terraform's 0 no changes, 1 error, 2 changes.
    """
    from aifo.commands.options import layered
    from aifo.discovery import current_folder
    from aifo.engine.choose import select

    current_folder()  # every command resolves paths from it: a removed one fails here, clearly
    select(engine)  # engine.choose reads the choice, in one place
    ctx.obj = layered(spec_files, session)


def _write_debug_log(exc: BaseException) -> str:
    import os
    import traceback
    from datetime import UTC, datetime

    from aifo.state.folder import debug_dir

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = debug_dir() / f"aifo-{stamp}-{os.getpid()}.log"
    text = "".join(traceback.format_exception(exc))
    # a new file, never through a link planted under the name (aifo.state.private)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(f"aifo {__version__}\nargv: {sys.argv!r}\n\n{text}")
    return str(path)


def _fail(json_out: bool, failure: Failure, code: int | None = None) -> None:
    """Report a failure in the one style (and as the one JSON object with `-o json`), then exit."""
    if code is not None and code != failure.exit_code:
        from dataclasses import replace

        failure = replace(failure, exit_code=code)
    if json_out:
        click.echo(failure.json())
    click.echo(failure.human(), err=True)
    sys.exit(failure.exit_code)


def _freeze_at_exit() -> None:
    """Once the command is done and the interpreter shuts down, first move every object to the
    cyclic GC's permanent generation: its last collections then skip what is about to be freed
    all the same. Measured: ~10 ms off every command's exit with aifo's ~300 modules loaded
    (docs/bench.md). Files are closed where they are written, and atexit handlers still run."""
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)  # run last: after every handler registered later


def main(argv: list[str] | None = None) -> None:
    """Console entry point: expected errors print cleanly; unexpected ones leave a debug log."""
    from aifo.ui.failure import Failure, detailed_exitcode, of_error, usage_failure, wants_json

    _freeze_at_exit()

    words = sys.argv[1:] if argv is None else argv
    json_out = wants_json(words)
    terraform = detailed_exitcode(words)

    def code_of(failure: Failure) -> int:
        # `plan --detailed-exitcode` is Terraform's: every error is 1 (2 means changes)
        return EXIT_FAILED if terraform and failure.exit_code == EXIT_INVALID else failure.exit_code

    try:
        code = cli.main(args=argv, prog_name="aifo", standalone_mode=False)
    except AifoError as exc:
        failure = of_error(exc)
        if isinstance(exc, SpecError) and exc.issues:
            from aifo.ui.errors import render_issues

            # located lines first (FILE:LINE:COL: path: message, hints below), then the error
            click.echo(render_issues(exc.issues), err=True)
        _fail(json_out, failure, code_of(failure))
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        failure = usage_failure(exc)
        _fail(json_out, failure, code_of(failure))
    except click.exceptions.Abort:
        _fail(json_out, Failure("interrupted", "aborted", EXIT_INTERRUPTED))
    except KeyboardInterrupt:
        _fail(json_out, Failure("interrupted", "interrupted", EXIT_INTERRUPTED))
    except Exception as exc:  # noqa: BLE001 - the last line of defence, by design
        try:
            where_log = _write_debug_log(exc)
        except (OSError, AifoError):  # AifoError: a state folder aifo refuses
            where_log = "(could not write a debug log)"
        hint = f"this is a bug in aifo; please report it with the debug log {where_log}"
        message = f"internal error: {type(exc).__name__}: {exc}"
        _fail(json_out, Failure("internal", message, EXIT_FAILED, hint=hint))
    sys.exit(code if isinstance(code, int) else 0)
