"""The `aifo` command line. Thin: parse, call one stage function, render, pick the exit code.

Start-up stays light: command modules import their heavy dependencies inside the command body, so
`aifo --version` and `aifo --help` never load python-on-whales, networkx or jsonschema.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys

import click

from aifo import __version__
from aifo import commands as subcommands
from aifo.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, AifoError, SpecError


class _Commands(click.Group):
    """The subcommands of aifo.commands.MODULES, each imported when it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*subcommands.MODULES, *(n for n in self.commands if n not in subcommands.MODULES)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self.commands.get(cmd_name) or subcommands.load(cmd_name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option(
    "--engine",
    type=click.Choice(["docker", "podman"]),
    envvar="AIFO_ENGINE",
    help="The container engine (default docker; env AIFO_ENGINE).",
)
@click.pass_context
def cli(ctx: click.Context, spec_file: str | None, session: str | None, engine: str | None) -> None:
    """Declarative, transactional runner for coding-agent environments on Docker.

    \b
    Exit codes: 0 success; 1 the operation failed (and was rolled back), or
    you answered no; 2 invalid spec or usage; 3 `plan --detailed-exitcode` found
    pending changes; 130 interrupted (Ctrl-C).
    """
    from aifo.commands.options import Globals
    from aifo.discovery import current_folder

    current_folder()  # every command resolves paths from it: a removed one fails here, clearly
    if engine:  # one place every command (and the engine facts cache) reads it from
        os.environ["AIFO_ENGINE"] = engine
    ctx.obj = Globals(file=spec_file, session=session)


def _write_debug_log(exc: BaseException) -> str:
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


def _fail(
    json_out: bool,
    kind: str,
    message: str,
    code: int,
    *,
    hint: str | None = None,
    issues: list[dict[str, object]] | None = None,
) -> None:
    """Report a failure in the one style (and as a JSON object with `-o json`), then exit."""
    from aifo.ui.failure import error_object, human

    if json_out:
        click.echo(error_object(kind, message, code, hint=hint, issues=issues or []))
    click.echo(human(message, hint), err=True)
    sys.exit(code)


def _freeze_at_exit() -> None:
    """Once the command is done and the interpreter shuts down, first move every object to the
    cyclic GC's permanent generation: its last collections then skip what is about to be freed
    all the same. Measured: ~10 ms off every command's exit with aifo's ~300 modules loaded
    (docs/engine.md). Files are closed where they are written, and atexit handlers still run."""
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)  # run last: after every handler registered later


def main(argv: list[str] | None = None) -> None:
    """Console entry point: expected errors print cleanly; unexpected ones leave a debug log."""
    from aifo.ui.failure import wants_json

    _freeze_at_exit()

    json_out = wants_json(sys.argv[1:] if argv is None else argv)
    try:
        code = cli.main(args=argv, prog_name="aifo", standalone_mode=False)
    except AifoError as exc:
        issues: list[dict[str, object]] = []
        message = exc.message
        if isinstance(exc, SpecError) and exc.issues:
            from aifo.ui.errors import issue_dict, render_issues, summary

            # located lines first (FILE:LINE:COL: path: message, hints below), then the error
            issues = [issue_dict(i) for i in exc.issues]
            click.echo(render_issues(exc.issues), err=True)
            message = f"the spec is invalid ({summary(len(exc.issues))})"
        _fail(json_out, type(exc).__name__, message, exc.exit_code, hint=exc.hint, issues=issues)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        usage = isinstance(exc, click.UsageError)
        where = getattr(exc, "ctx", None)
        hint = f"see `{where.command_path} --help`" if usage and where is not None else None
        code = EXIT_INVALID if usage else exc.exit_code
        _fail(json_out, "UsageError", exc.format_message(), code, hint=hint)
    except click.exceptions.Abort:
        _fail(json_out, "Interrupted", "aborted", EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        _fail(json_out, "Interrupted", "interrupted", EXIT_INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - the last line of defence, by design
        try:
            where_log = _write_debug_log(exc)
        except (OSError, AifoError):  # AifoError: a state folder aifo refuses
            where_log = "(could not write a debug log)"
        _fail(
            json_out,
            "InternalError",
            f"internal error: {type(exc).__name__}: {exc}",
            EXIT_FAILED,
            hint=f"this is a bug in aifo; please report it with the debug log {where_log}",
        )
    sys.exit(code if isinstance(code, int) else 0)
