"""Options shared by several commands, declared once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_SPEC = "aifo.yaml"


def spec_argument(func: F) -> F:
    return click.argument(
        "spec_file", metavar="FILE", default=DEFAULT_SPEC, type=click.Path(dir_okay=False)
    )(func)


def profile_option(func: F) -> F:
    return click.option(
        "--profile",
        "profiles",
        multiple=True,
        metavar="NAME",
        help="Extra profile to extend (repeatable), e.g. toolchain/rust or a .aifo/profiles name.",
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


def not_implemented(name: str) -> None:
    from aifo.errors import AifoError

    raise AifoError(f"`aifo {name}` is not implemented yet")


def spec_files_argument(func: F) -> F:
    """One or more spec files (default: aifo.yaml)."""
    return click.argument(
        "spec_files", metavar="FILE...", nargs=-1, type=click.Path(dir_okay=False)
    )(func)
