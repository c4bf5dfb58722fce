"""The optional `.env` beside the spec: KEY=VALUE lines, as Docker Compose reads them.

`export ` prefixes, `#` comments, blank lines, 'single' (literal) and "double" quotes (with \\n,
\\t, \\" and \\\\ escapes) are understood. The process environment wins over `.env`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from aifo.errors import SpecError
from aifo.host import files as hostfiles
from aifo.issue import Issue
from aifo.location import Location
from aifo.sessionspec import hostpaths
from aifo.sessionspec.hostfacts import HostFacts

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def parse(text: str, display: str) -> dict[str, str]:
    """Parse `.env` text; every malformed line is a located issue (raised together)."""
    out: dict[str, str] = {}
    issues: list[Issue] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            col = len(line) - len(line.lstrip()) + 1
            issues.append(
                Issue(Location(display, number, col), "", "expected KEY=VALUE", "see docs/spec.md")
            )
            continue
        key, rest = match.group(1), match.group(2)
        value = _value(rest)
        if value is None:
            col = match.start(2) + 1
            issues.append(Issue(Location(display, number, col), key, "unterminated quote"))
            continue
        out[key] = value
    if issues:
        raise SpecError(issues)
    return out


def _value(rest: str) -> str | None:
    rest = rest.strip()
    if rest[:1] == "'":
        end = rest.find("'", 1)
        return None if end < 0 else rest[1:end]
    if rest[:1] == '"':
        chars: list[str] = []
        i = 1
        while i < len(rest):
            c = rest[i]
            if c == "\\" and i + 1 < len(rest):
                chars.append(_ESCAPES.get(rest[i + 1], "\\" + rest[i + 1]))
                i += 2
                continue
            if c == '"':
                return "".join(chars)
            chars.append(c)
            i += 1
        return None
    comment = re.search(r"\s#", rest)
    return (rest[: comment.start()] if comment else rest).strip()


def environment(
    base_dir: Path,
    environ: Mapping[str, str],
    display: str | None = None,
    *,
    facts: HostFacts | None = None,
) -> tuple[dict[str, str], Path | None]:
    """`.env` beside the spec (if any) overlaid by `environ`. Returns it and the file read.

    The file passes the host-path policy like every host file aifo reads (a `.env` linked to
    ~/.aws/credentials is refused; so is a FIFO, a folder or a file over the size cap)."""
    path = base_dir / ".env"
    if not os.path.lexists(path):
        return dict(environ), None
    where = Location(display or str(path), 1, 1)
    if facts is not None:
        verdict = hostpaths.check(
            ".env",
            base=base_dir,
            facts=facts,
            read_only=True,
            allowed=(),
            what=".env file",
            kind="file",
            cap=hostfiles.ENV_FILE_CAP,
            opt_in=None,
        )
        if verdict.errors:
            raise SpecError([Issue(where, "", message, hint) for message, hint in verdict.errors])
    try:
        text = hostfiles.read_bounded(path, hostfiles.ENV_FILE_CAP).decode("utf-8")
    except (OSError, UnicodeDecodeError, hostfiles.UnreadableFile) as exc:
        raise SpecError([Issue(where, "", f"cannot read .env: {exc}")]) from exc
    values = parse(text, display or str(path))
    values.update(environ)
    return values, path
