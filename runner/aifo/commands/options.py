"""Options shared by several commands, declared once, and the global `-f`/`--session`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from aifo.discovery import DEFAULT_SPEC

F = TypeVar("F", bound=Callable[..., Any])

# A spec file or folder: click.Path, so that shells complete file names (existence is the spec
# stage's to report, with its own words).
SPEC_PATH = click.Path()

__all__ = ["DEFAULT_SPEC", "Globals", "spec_file", "session_override"]


@dataclass(frozen=True)
class Globals:
    """The options given before the subcommand (`aifo -f FILE --session NAME CMD`)."""

    file: str | None = None
    session: str | None = None
    under: tuple[str, ...] = ()  # the earlier `-f` files, merged under `file` in order


def layered(files: tuple[str, ...], session: str | None) -> Globals:
    """`-f A -f B ...` as Compose reads it: the last file is the spec, the earlier ones lie
    under it in order (later files override earlier ones). The same file twice counts once."""
    unique = tuple(reversed(dict.fromkeys(reversed(files))))  # a repeated file: its last place
    return Globals(file=unique[-1] if unique else None, session=session, under=unique[:-1])


def globals_() -> Globals:
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    return obj if isinstance(obj, Globals) else Globals()


def spec_file(given: str | None = None) -> str:
    """The spec a command works on: FILE (a file or a folder), `-f FILE`, or the nearest
    aifo.yaml from the current folder up."""
    from aifo.discovery import find_spec
    from aifo.errors import UsageError

    top = globals_().file
    if given is not None and top is not None and given != top:
        raise UsageError(
            f"two specs given: -f {top} and {given}", hint="name the spec once, with -f or as FILE"
        )
    return str(find_spec(given if given is not None else top))


def layers_under() -> tuple[str, ...]:
    """The earlier `-f` files as absolute paths, for the spec stage to merge under the spec as
    it merges profiles (each value keeps its own FILE:LINE: `aifo config --explain`)."""
    import os

    from aifo.discovery import spec_path

    return tuple(os.path.abspath(spec_path(f)) for f in globals_().under)


def spec_given() -> bool:
    """Whether `-f FILE` came before the subcommand (exec/run/shell/logs then take NAME first)."""
    return globals_().file is not None


def session_override(local: str | None = None) -> str | None:
    """`--session NAME` of the subcommand or before it (checked like the spec's `session:`)."""
    from aifo.discovery import check_session
    from aifo.errors import UsageError

    top = globals_().session
    if local and top and local != top:
        raise UsageError(f"two sessions given: {top!r} and {local!r}", hint="give --session once")
    name = local or top
    return check_session(name) if name else None


def spec_argument(func: F) -> F:
    """An optional FILE (a spec, or a folder holding aifo.yaml) and `--session NAME`."""
    func = session_option(func)
    return click.argument("spec_file", metavar="[FILE]", required=False, type=SPEC_PATH)(func)


def session_option(func: F) -> F:
    return click.option(
        "--session",
        "session_name",
        metavar="NAME",
        help="Work on session NAME instead of the spec's `session:` (one spec, many sessions).",
    )(func)


def profile_option(func: F) -> F:
    return click.option(
        "--profile",
        "profiles",
        multiple=True,
        metavar="NAME",
        help="Extra profile to extend (repeatable), e.g. toolchain/rust or a .aifo/profiles name.",
        shell_complete=_complete_profiles,
        callback=_with_layers,
    )(func)


def _with_layers(_ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> Any:
    """Every command that takes profiles gets the earlier `-f` files first: they are merged
    under the spec exactly as profiles are (`aifo -f base.yaml -f override.yaml plan`)."""
    return (*layers_under(), *value)


def _complete_profiles(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from aifo.commands.complete import profile_names

    return profile_names(ctx, param, incomplete)


def _complete_containers(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from aifo.commands.complete import containers

    return containers(ctx, param, incomplete)


def target_words(metavar: str, *, unprocessed: bool = False) -> Callable[[F], F]:
    """`[FILE] NAME ...` of exec/run/shell/logs, with NAME completed from the spec."""
    return click.argument(
        "words",
        nargs=-1,
        metavar=metavar,
        type=click.UNPROCESSED if unprocessed else None,
        shell_complete=_complete_containers,
    )


def lock_timeout_option(func: F) -> F:
    return click.option(
        "--lock-timeout",
        type=float,
        default=30.0,
        show_default=True,
        metavar="S",
        help="Seconds to wait for another aifo working on the same session.",
    )(func)


def output_option(*choices: str, default: str = "text") -> Callable[[F], F]:
    def decorate(func: F) -> F:
        return click.option(
            "--output",
            "-o",
            type=click.Choice(choices or ("text", "json")),
            default=default,
            show_default=True,
            help="Output format.",
        )(func)

    return decorate


def spec_files_argument(func: F) -> F:
    """One or more spec files or folders (default: the nearest aifo.yaml)."""
    func = session_option(func)
    return click.argument("spec_files", metavar="[FILE...]", nargs=-1, type=SPEC_PATH)(func)
