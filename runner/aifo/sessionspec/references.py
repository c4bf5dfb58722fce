"""Image references, checked as Docker's reference grammar defines them (distribution/reference).

A reference reaches the engine's command line as a positional argument; anything that is not a
reference (`--privileged`, spaces, upper case in the path) is refused at validation.
"""

from __future__ import annotations

import re

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-fA-F:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
REFERENCE = re.compile(rf"^(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?\Z")
MAX_NAME = 255
MAX_REFERENCE = 1024


def problem(ref: str) -> str | None:
    """Why `ref` is not an image reference, or None when it is one."""
    if not ref:
        return "it is empty"
    if len(ref) > MAX_REFERENCE:
        return f"it is longer than {MAX_REFERENCE} characters"
    if ref.startswith("-"):
        return "it starts with '-' (it would be read as a flag)"
    if any(c.isspace() for c in ref):
        return "it contains whitespace"
    match = REFERENCE.match(ref)
    if match is None:
        if REFERENCE.match(ref.lower()):
            return "repository names must be lowercase"
        return "it does not follow the grammar name[:tag][@digest]"
    if len(match.group("name")) > MAX_NAME:
        return f"the name is longer than {MAX_NAME} characters"
    return None
