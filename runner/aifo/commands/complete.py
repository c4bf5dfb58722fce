"""Shell completion: `aifo completion bash|zsh|fish`, and the values it completes (the
containers of the spec in reach, profile names from the catalog)."""

from __future__ import annotations

from typing import Any

import click
from click.shell_completion import CompletionItem

SHELLS = ("bash", "zsh", "fish")


def _spec_of(ctx: click.Context, words: tuple[str, ...]) -> tuple[str | None, int]:
    """The spec a partial command line names (or the nearest aifo.yaml), and how many of
    `words` it took."""
    from aifo.discovery import find_spec, looks_like_spec

    given = ctx.find_root().params.get("spec_files") or ()
    top = given[-1] if given else None
    if top:
        return str(find_spec(top)), 0
    if words and looks_like_spec(words[0]):
        return words[0], 1
    return str(find_spec()), 0


def containers(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    """Container names for the NAME word of exec/run/shell/logs (nothing after it)."""
    from aifo.errors import AifoError

    words = tuple(ctx.params.get("words") or ())
    try:
        spec, taken = _spec_of(ctx, words)
        if spec is None or len(words) > taken:
            return []
        from aifo.attach.cache import container_names
        from aifo.commands.attaching import load_session

        session = ctx.find_root().params.get("session")
        names = container_names(spec, session) or sorted(
            c.name for c in load_session(spec, (), session).containers
        )
    except (AifoError, OSError):
        return []  # completion never fails loudly
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def profile_names(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    from aifo.sessionspec.catalog import profiles

    return [CompletionItem(p.name) for p in profiles() if p.name.startswith(incomplete)]


def agent_names(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    from aifo.sessionspec.catalog import builtin_names

    names = [n.removeprefix("agent/") for n in builtin_names() if n.startswith("agent/")]
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def command(shell: str) -> None:
    """Print the completion script for SHELL; it completes commands, options, container names
    and profile names.

    \b
    bash: eval "$(aifo completion bash)"      (e.g. in ~/.bashrc)
    zsh:  eval "$(aifo completion zsh)"       (e.g. in ~/.zshrc)
    fish: aifo completion fish > ~/.config/fish/completions/aifo.fish
    """
    from click.shell_completion import get_completion_class

    root = click.get_current_context().find_root().command
    cls = get_completion_class(shell)
    assert cls is not None  # every choice has a class
    click.echo(cls(root, {}, "aifo", "_AIFO_COMPLETE").source())
