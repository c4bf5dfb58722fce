"""The resolve-failure watch behind the routed commands' no-egress hint (pure)."""

from __future__ import annotations

from aifo.route.hints import ResolveWatch


def test_a_failure_split_across_reads_is_seen() -> None:
    watch = ResolveWatch()
    watch.feed(b"x" * 5000 + b"... [Errno -3] Temporary failure in na")
    assert not watch.seen
    watch.feed(b"me resolution')\n")
    assert watch.seen


def test_other_failures_are_not_taken_for_one() -> None:
    watch = ResolveWatch()
    for chunk in (b"ERROR: No matching distribution found for six\n", b"", b"exit 1"):
        watch.feed(chunk)
    assert not watch.seen
