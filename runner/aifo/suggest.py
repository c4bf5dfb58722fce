"""Did-you-mean: the one place that turns a misspelt name into a hint."""

from __future__ import annotations

from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[str], otherwise: str | None = None) -> str | None:
    """`did you mean 'x'?` for the closest choice, else `otherwise`."""
    import difflib  # only when a name is wrong

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else otherwise
