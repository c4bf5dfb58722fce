"""Docker CLI failures → typed aifo errors, by return code and stderr text.

The rules are a table of (compiled pattern, error class), checked in order; the first that matches
the daemon's message decides. Messages are one line, `<operation> <object>: <daemon's reason>`,
with any value the caller asks to redact (environment values) replaced by `***`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from aifo.errors import (
    Conflict,
    EngineError,
    EngineUnavailable,
    ImageMissing,
    NotFound,
    PortInUse,
)
from aifo.masking import mask_values

HINT_IMAGE = (
    "no registry is reachable here: run scripts/seed-images, or declare a build for the image"
)

_UNAVAILABLE = re.compile(
    r"Cannot connect to the Docker daemon|Is the docker daemon running|"
    r"error during connect|permission denied while trying to connect to the Docker daemon",
    re.IGNORECASE,
)
_IMAGE = re.compile(
    r"pull access denied|manifest unknown|repository does not exist|"
    r"failed to resolve reference|No such image|Unable to find image|image not known|"
    r"unauthorized: authentication required|"
    # the registry did not answer: `Get "https://registry-1.docker.io/v2/": dial tcp: …`
    r"Get \"https?://[^\"]*/v2/[^\"]*\"|error pinging docker registry",
    re.IGNORECASE,
)
_NOT_FOUND = re.compile(
    r"No such (container|image|volume|network|object)|"
    r"\b(network|volume|container|image) \S+ not found",
    re.IGNORECASE,
)
_CONFLICT = re.compile(
    r"Conflict|already in use|already exists|is in use|same name as its current name", re.I
)

# A published host port that is taken, as the docker proxy (`listen tcp4 127.0.0.1:8080: bind:
# address already in use`) or the daemon (`Bind for 0.0.0.0:8080 failed: port is already
# allocated`) says it; Podman says `cannot listen on the TCP port: listen tcp4 :8080: bind: …`.
_PORT = re.compile(
    r"listen (tcp|udp)[46]? \[?([0-9a-fA-F.:]*?)\]?:(\d+): bind: address already in use|"
    r"Bind for \[?([0-9a-fA-F.:]*?)\]?:(\d+) failed: port is already allocated"
)


def port_in_use(stderr: str) -> PortInUse | None:
    """The taken host port a failure names (its ids and the daemon's wording left out)."""
    match = _PORT.search(stderr)
    if match is None:
        return None
    if match.group(3):
        return PortInUse(match.group(2) or "0.0.0.0", int(match.group(3)), match.group(1))
    return PortInUse(match.group(4) or "0.0.0.0", int(match.group(5)))


# Order matters: an unreachable daemon beats everything; a missing image beats a bare "not found".
RULES: tuple[tuple[re.Pattern[str], type[EngineError]], ...] = (
    (_UNAVAILABLE, EngineUnavailable),
    (_IMAGE, ImageMissing),
    (_NOT_FOUND, NotFound),
    (_CONFLICT, Conflict),
)

_PREFIXES = ("Error response from daemon: ", "Error: ", "error: ", "ERROR: ")
# CLI summaries that repeat what the daemon said (matched after the `Error: ` prefix is gone)
_NOISE = re.compile(
    r"^(exit status \d+|failed to \w+ containers?:.*|failed to \w+ container named .*|"
    r"See '.*--help'\.)$"
)
_MAX_DETAIL = 400


def is_not_found(line: str) -> bool:
    """Whether one stderr line says only that an object does not exist."""
    return bool(_NOT_FOUND.search(line)) and not _UNAVAILABLE.search(line)


_IN_PROGRESS = re.compile(r"removal of container (\S+) is already in progress", re.I)


def removal_in_progress(line: str) -> str | None:
    """The container a `docker rm` line says another caller is already removing, else None."""
    match = _IN_PROGRESS.search(line)
    return match.group(1) if match else None


def lines_of(stderr: str) -> list[str]:
    """The meaningful stderr lines: prefixes stripped, CLI noise and blanks dropped."""
    out: list[str] = []
    for raw in stderr.splitlines():
        line = raw.strip()
        for prefix in _PREFIXES:
            if line.startswith(prefix):
                line = line[len(prefix) :].strip()
        if line and not _NOISE.match(line):
            out.append(line)
    return out


def detail(stderr: str, returncode: int, *, redact: Iterable[str] = ()) -> str:
    """One line describing the failure (the lines joined with `; `), redacted and shortened."""
    lines = lines_of(stderr) or [raw.strip() for raw in stderr.splitlines() if raw.strip()]
    text = "; ".join(dict.fromkeys(lines)) or f"docker exited with {returncode}"
    text = mask_values(text, redact, min_len=3)  # env values, not only secrets: skip tiny ones
    if len(text) > _MAX_DETAIL:
        text = text[: _MAX_DETAIL - 1] + "…"
    return text


def classify(stderr: str) -> type[EngineError]:
    for pattern, cls in RULES:
        if pattern.search(stderr):
            return cls
    return EngineError


def translate(
    op: str,
    obj: str,
    returncode: int,
    stderr: str,
    *,
    redact: Iterable[str] = (),
    image_is_object: bool = False,
) -> EngineError:
    """The typed error for a failed `docker` call. `op` is e.g. "create container".

    `image_is_object`: the call's object is the image itself (inspect, remove), so "No such image"
    means NotFound rather than ImageMissing.
    """
    taken = port_in_use(stderr)
    if taken is not None:
        return taken
    cls = classify(stderr)
    if image_is_object and cls is ImageMissing and _NOT_FOUND.search(stderr):
        cls = NotFound
    message = f"{op} {obj}: {detail(stderr, returncode, redact=redact)}"
    if cls is EngineUnavailable:
        from aifo.engine.hints import from_cli

        return from_cli(stderr)
    if cls is ImageMissing:
        return ImageMissing(message, hint=HINT_IMAGE)
    return cls(message)
