"""One-line hints aifo adds to a routed command's stderr when its failure has a cause in the
spec: a host name that did not resolve in a toolchain without egress (its networks are internal,
so package installs fail; `aifo init` wrote the egress block that opens its index)."""

from __future__ import annotations

# What resolvers and package tools print when a name does not resolve (glibc, musl, Node, curl,
# Go, Python's socket module, busybox)
RESOLVE_FAILURES = (
    b"Temporary failure in name resolution",
    b"Name or service not known",
    b"Name does not resolve",
    b"EAI_AGAIN",
    b"ENOTFOUND",
    b"Could not resolve host",
    b"no such host",
    b"getaddrinfo failed",
    b"bad address",  # busybox
)
_KEEP = max(map(len, RESOLVE_FAILURES))  # a failure split across two reads is still seen


class ResolveWatch:
    """Watches a command's output for a name that did not resolve (bounded: a short tail)."""

    def __init__(self) -> None:
        self.seen = False
        self._tail = b""

    def feed(self, data: bytes) -> None:
        if self.seen or not data:
            return
        window = self._tail + data
        self.seen = any(failure in window for failure in RESOLVE_FAILURES)
        self._tail = window[-_KEEP:]


def no_egress(tool: str, toolchain: str) -> bytes:
    """The hint for a failed command whose output says a name did not resolve."""
    return (
        f"aifo: {tool}: a host name did not resolve: toolchain {toolchain} has no egress; to let "
        f"it reach its package index, uncomment the `egress:` block under toolchains.{toolchain} "
        "(aifo init writes it; docs/egress.md)\n"
    ).encode()
