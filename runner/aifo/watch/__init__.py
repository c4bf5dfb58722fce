"""`aifo apply --watch`: reconcile on every save of the spec, its profiles, `.env` and build
contexts. See docs/watch.md.

    core    WatchSet, watch_set, settle, digest (pure but for reading the watched files)
    feed    ChangeFeed: watchfiles threads → one iterator of change batches
    loop    run_round (injected resolve/plan/apply) and the Watcher loop

The real resolve/plan/apply/destroy and the views are wired in aifo.commands.apply_watch.
"""

from __future__ import annotations

from aifo.watch.core import (
    WatchSet,
    digest,
    fallback_watch_set,
    make_watch_set,
    settle,
    watch_set,
)
from aifo.watch.loop import (
    Applied,
    Failed,
    Invalid,
    NoChange,
    Planned,
    RoundDeps,
    RoundResult,
    Watcher,
    WatchView,
    run_round,
)

__all__ = [
    "Applied",
    "Failed",
    "Invalid",
    "NoChange",
    "Planned",
    "RoundDeps",
    "RoundResult",
    "WatchSet",
    "WatchView",
    "Watcher",
    "digest",
    "fallback_watch_set",
    "make_watch_set",
    "run_round",
    "settle",
    "watch_set",
]
