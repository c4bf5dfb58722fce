"""Which spec file and which session a command works on, as Compose and git find them.

`-f FILE` (before the subcommand) or a FILE argument names the spec; a folder means its
`aifo.yaml`; without either, `aifo.yaml` is looked for in the current folder, then in each parent.
`--session NAME` runs the spec as another session (Compose's `-p`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from aifo.errors import UsageError

TYPE_CHECKING = False  # not typing's: `aifo exec`'s fast path does not load typing (mypy knows)
if TYPE_CHECKING:
    from pathlib import Path

# Paths are strings here (os.path): `aifo exec`'s fast path finds its spec without pathlib.
DEFAULT_SPEC = "aifo.yaml"
SPEC_SUFFIXES = (".yaml", ".yml")
# The schema's session pattern (schema/session.schema.json: properties.session).
_SESSION = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?\Z"
_SESSION_MAX = 40


def find_spec(given: str | None = None, cwd: Path | None = None) -> Path:
    """The spec file for `given` (a file, or a folder holding aifo.yaml), else the nearest
    `aifo.yaml` from `cwd` upwards. UsageError (exit 2) with a hint when there is none."""
    from pathlib import Path

    return Path(spec_path(given, None if cwd is None else str(cwd)))


def spec_path(given: str | None = None, cwd: str | None = None) -> str:
    """find_spec's answer as a string."""
    if given is not None:
        if os.path.isdir(given):
            inner = os.path.join(given, DEFAULT_SPEC)
            if not os.path.lexists(inner):  # anything else there: the spec stage says what
                raise UsageError(
                    f"{given}: a folder without {DEFAULT_SPEC}",
                    hint=f"create one with `aifo init {given}`, or name the spec file",
                )
            return inner
        return given  # a missing file is reported by the spec stage, located
    start = os.path.abspath(cwd or current_folder())
    folder = start
    while True:
        candidate = os.path.join(folder, DEFAULT_SPEC)
        if os.path.isfile(candidate):
            return _shown(candidate, start)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    raise UsageError(
        f"no {DEFAULT_SPEC} in {start} or any parent folder",
        hint="pass the spec with `aifo -f FILE ...`, or create one with `aifo init`",
    )


def current_folder() -> str:
    """The working folder; a UsageError (exit 2) when it was removed under us (as git says)."""
    try:
        return os.getcwd()
    except FileNotFoundError:
        raise UsageError(
            "the current folder no longer exists (it was removed or renamed)",
            hint="cd to the project's folder, or pass the spec with `aifo -f FILE ...`",
        ) from None


def _shown(path: str, cwd: str) -> str:
    """Relative to cwd when inside it (messages stay short), else absolute."""
    rel = os.path.relpath(path, cwd)
    return rel if rel.count("..") <= 3 else path


def looks_like_spec(word: str) -> bool:
    """Whether a first argument of exec/run/shell/logs names a spec rather than a container:
    it ends in .yaml/.yml, or is an existing file, or a folder holding aifo.yaml."""
    if word.endswith(SPEC_SUFFIXES):
        return True
    try:
        return os.path.isfile(word) or os.path.isfile(os.path.join(word, DEFAULT_SPEC))
    except (OSError, ValueError):
        return False


def split_target(
    words: Sequence[str], *, file_given: bool, needs_name: bool = True
) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(FILE or None, NAME, the rest) from `[FILE] NAME REST...`: the form that took FILE first
    keeps working; with `-f` the first word is always NAME."""
    rest = tuple(words)
    spec: str | None = None
    if not file_given and rest and looks_like_spec(rest[0]):
        # `web -- id` with a folder web/ holding an aifo.yaml is still the container web
        if (len(rest) > 1 and not rest[1].startswith("-")) or not needs_name:
            spec, rest = rest[0], rest[1:]
    if needs_name and len(rest) == 1 and rest[0].endswith(SPEC_SUFFIXES):
        rest = ()  # `aifo run aifo.yaml`: a spec, and no NAME
    if not rest:
        if needs_name:
            raise UsageError(
                "missing the container NAME", hint="`aifo status` lists the session's containers"
            )
        return spec, None, ()
    return spec, rest[0], rest[1:]


def check_session(name: str) -> str:
    """A `--session NAME` value, checked like the spec's `session:`."""
    import re

    if len(name) > _SESSION_MAX or not re.match(_SESSION, name):
        raise UsageError(
            f"--session {name!r}: not a session name",
            hint=f"lowercase letters, digits and '-', at most {_SESSION_MAX}, e.g. my-project",
        )
    return name
