"""How a failed command reports: one style for people (`error: MESSAGE`, its items indented,
then `  hint: ...`) and, when the command was asked for `-o json`, one JSON object on stdout for
machines, the same shape for every command and every error (docs/cli.md, "Errors as JSON"):

    {"error": {"kind": "invalid-spec", "message": "...", "hint": "..." | null,
               "location": {"file", "line", "col"} | null, "exit_code": 2,
               "items": [{"message", "file", "line", "col", "path", "hint"}, ...]}}

`kind` is a stable word (`AifoError.kind`, or one of `usage`, `interrupted`, `internal` for
failures that are not aifo's errors), never a Python class name. `items` are the parts of the
story: every located issue of an invalid spec, what changed under a saved plan, ...
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aifo.errors import EXIT_INVALID, AifoError, SpecError
from aifo.location import Location

TYPE_CHECKING = False
if TYPE_CHECKING:
    import click

_JSON_FLAGS = ("-o", "--output", "--format")


def wants_json(argv: Sequence[str]) -> bool:
    """Whether the command line asked for JSON output (words after `--` belong to CMD)."""
    words = list(argv)
    for i, word in enumerate(words):
        if word == "--":
            return False
        if word in _JSON_FLAGS and i + 1 < len(words) and words[i + 1] == "json":
            return True
        if word in ("-ojson", "--output=json", "--format=json"):
            return True
    return False


def item(message: str, **located: Any) -> dict[str, Any]:
    """One item: `message`, and where it is and how to fix it when known (else null)."""
    keys = ("file", "line", "col", "path", "hint")
    return {"message": message, **{k: located.get(k) for k in keys}}


@dataclass(frozen=True)
class Failure:
    """What one failed command reports, for people and for machines."""

    kind: str
    message: str
    exit_code: int
    hint: str | None = None
    items: tuple[dict[str, Any], ...] = ()
    lines: tuple[str, ...] = ()  # how people read the items (located issues, changed inputs)
    location: dict[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "kind": self.kind,
                "message": self.message,
                "hint": self.hint,
                "location": self.location,
                "items": list(self.items),
                "exit_code": self.exit_code,
            }
        }

    def json(self) -> str:
        return json.dumps(self.to_dict())

    def human(self) -> str:
        return "\n".join(
            [f"error: {self.message}", *(f"  {line}" for line in self.lines)]
            + ([f"  hint: {self.hint}"] if self.hint else [])
        )


def of_error(exc: AifoError) -> Failure:
    """An aifo error as one Failure: a SpecError's issues become located items (the first
    one's position is the error's location)."""
    if isinstance(exc, SpecError) and exc.issues:
        from aifo.ui.errors import issue_dict, summary

        items = tuple(item(**issue_dict(i)) for i in exc.issues)
        first = next((i for i in items if i["file"] is not None), None)
        return Failure(
            exc.kind,
            f"the spec is invalid ({summary(len(exc.issues))})",
            exc.exit_code,
            hint=exc.hint,
            items=items,
            location=None if first is None else {k: first[k] for k in ("file", "line", "col")},
        )
    # an error tied to one place in the spec carries it as `location` (a taken host port names
    # its `ports[N]` entry), so machines get it too
    where = getattr(exc, "location", None)
    return Failure(
        exc.kind,
        exc.message,
        exc.exit_code,
        hint=exc.hint,
        items=tuple(item(line) for line in exc.items),
        lines=exc.items,
        location=_position(where) if isinstance(where, Location) else None,
    )


def _position(where: Location) -> dict[str, Any]:
    return {"file": where.file, "line": where.line, "col": where.col}


def detailed_exitcode(argv: Sequence[str]) -> bool:
    """Whether this is `plan --detailed-exitcode` (Terraform's codes: every error is 1)."""
    words = list(argv)[: list(argv).index("--")] if "--" in argv else list(argv)
    return "plan" in words and "--detailed-exitcode" in words


def usage_failure(exc: click.ClickException) -> Failure:
    """A command line click refused, in the one style; kind `usage`."""
    import click

    hint: str | None = None
    where = getattr(exc, "ctx", None)
    if isinstance(exc, click.NoSuchOption) and exc.option_name in ("-f", "--file"):
        hint = "-f goes before the subcommand: `aifo -f FILE COMMAND ...`"
    elif isinstance(exc, click.UsageError) and where is not None:
        hint = f"see `{where.command_path} --help`"
    code = EXIT_INVALID if isinstance(exc, click.UsageError) else exc.exit_code
    return Failure("usage", exc.format_message(), code, hint=hint)
