"""`egress.allow` patterns: `HOST[:PORT]`, `*.DOMAIN[:PORT]` or an IPv4 address. Pure.

Without a port a pattern allows the web's two ports, 80 (plain HTTP) and 443 (HTTPS through
CONNECT). `*.example.org` allows every name under example.org, not example.org itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_PORTS = (80, 443)
MAX_PATTERN = 261  # a 253-character name, ':' and a 5-digit port, '*.'
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
# Also the schema's `pattern` (schema/session.schema.json, $defs.egress), case-insensitively.
PATTERN = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*(:[0-9]{{1,5}})?\Z", re.IGNORECASE)
HINT = 'write HOST[:PORT], e.g. "api.example.com:443", "*.example.org" or "10.0.0.5:8080"'


class PatternError(ValueError):
    """A pattern that is not `HOST[:PORT]`; the message says why."""


@dataclass(frozen=True)
class Rule:
    """One parsed allowlist entry: a host or domain, and its ports."""

    host: str  # lowercase; for a wildcard, the domain under which every name matches
    wildcard: bool
    ports: tuple[int, ...]

    @property
    def text(self) -> str:
        host = f"*.{self.host}" if self.wildcard else self.host
        return host if self.ports == DEFAULT_PORTS else f"{host}:{self.ports[0]}"


def parse(pattern: str) -> Rule:
    """One pattern → a Rule; PatternError when it is not one."""
    if len(pattern) > MAX_PATTERN or not PATTERN.match(pattern):
        raise PatternError(f"{pattern[:80]!r} is not a HOST[:PORT] pattern")
    host, _, port = pattern.lower().partition(":")
    if len(host.removeprefix("*.")) > 253:
        raise PatternError("the host name is longer than 253 characters")
    ports: tuple[int, ...] = DEFAULT_PORTS
    if port:
        number = int(port)
        if not 1 <= number <= 65535:
            raise PatternError(f"port {number} is out of range 1-65535")
        ports = (number,)
    wildcard = host.startswith("*.")
    return Rule(host.removeprefix("*."), wildcard, ports)


def parse_all(patterns: list[str] | tuple[str, ...]) -> tuple[Rule, ...]:
    """Every pattern, in order, duplicates dropped."""
    return tuple(dict.fromkeys(parse(p) for p in patterns))
