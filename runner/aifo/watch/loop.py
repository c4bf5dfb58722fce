"""The watch loop: settle a burst of saves, skip it when the bytes are unchanged, run a round.

A round is resolve → plan → apply with injected callables, so the loop is tested without Docker;
`aifo.commands.apply_watch` supplies the real ones (the same pipeline as `aifo apply --yes`).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from aifo.errors import AifoError, SpecError
from aifo.issue import Issue
from aifo.watch.core import (
    FileChange,
    WatchSet,
    digest,
    fallback_watch_set,
    settle,
    watch_set,
)

if TYPE_CHECKING:
    from aifo.model import Session
    from aifo.sessionspec import ResolvedSpec


@dataclass(frozen=True)
class Planned:
    """A plan as the loop sees it: one line per pending action (none: nothing to do)."""

    changes: tuple[str, ...]
    handle: object = None  # whatever `apply` needs (the reconciler's own plan)
    session: Session | None = None  # the compiled desired state, for build contexts


@dataclass(frozen=True)
class Invalid:
    """A round's spec did not validate: its issues."""

    issues: tuple[Issue, ...]


@dataclass(frozen=True)
class NoChange:
    """A round found nothing to change."""


@dataclass(frozen=True)
class Applied:
    """A round applied changes."""

    changes: tuple[str, ...]


@dataclass(frozen=True)
class Failed:
    """A round's apply failed (and was rolled back)."""

    error: AifoError


Outcome = Invalid | NoChange | Applied | Failed


@dataclass(frozen=True)
class RoundResult:
    """One round of `apply --watch`: its outcome and what it read."""

    number: int
    outcome: Outcome
    duration_s: float
    resolved: ResolvedSpec | None = None
    session: Session | None = None


@dataclass(frozen=True)
class RoundDeps:
    """The stages a round calls; each raises SpecError (invalid) or AifoError (failed)."""

    resolve: Callable[[], ResolvedSpec]
    plan: Callable[[ResolvedSpec], Planned]
    apply: Callable[[Planned], Sequence[str] | None]  # lines applied (None: as planned)


class WatchView(Protocol):
    def watching(self, ws: WatchSet) -> None: ...

    def round_started(self, number: int, changed: tuple[str, ...]) -> None: ...

    def round_finished(self, result: RoundResult) -> None: ...


def run_round(
    number: int, deps: RoundDeps, clock: Callable[[], float] = time.monotonic
) -> RoundResult:
    """Resolve and validate; when valid, plan; when the plan has actions, apply them.

    Never raises AifoError: an invalid spec or a failed (rolled back) apply is an outcome.
    """
    start = clock()

    def done(
        outcome: Outcome, resolved: ResolvedSpec | None = None, planned: Planned | None = None
    ) -> RoundResult:
        session = planned.session if planned is not None else None
        return RoundResult(number, outcome, clock() - start, resolved, session)

    try:
        resolved = deps.resolve()
    except SpecError as error:
        return done(Invalid(error.issues))
    try:
        planned = deps.plan(resolved)
    except SpecError as error:  # compile-time checks are spec errors too
        return done(Invalid(error.issues), resolved)
    except AifoError as error:
        return done(Failed(error), resolved)
    if not planned.changes:
        return done(NoChange(), resolved, planned)
    try:
        applied = deps.apply(planned)
    except AifoError as error:
        return done(Failed(error), resolved, planned)
    if applied is not None and not applied:  # planned again under the lock: already there
        return done(NoChange(), resolved, planned)
    return done(Applied(planned.changes if applied is None else tuple(applied)), resolved, planned)


FeedFactory = Callable[
    [WatchSet, threading.Event], AbstractContextManager[Iterable[AbstractSet[FileChange]]]
]


def _default_feed(
    ws: WatchSet, stop: threading.Event
) -> AbstractContextManager[Iterable[AbstractSet[FileChange]]]:
    from aifo.watch.feed import ChangeFeed

    return ChangeFeed(ws, stop)


class Watcher:
    """Apply once, then a round per settled burst of saves, until `stop` is set (or
    `max_rounds` rounds ran). Follows the watch set as `extends` and build contexts change."""

    def __init__(
        self,
        spec_file: str | Path,
        deps: RoundDeps,
        view: WatchView,
        *,
        settle_s: float = 0.3,
        stop: threading.Event | None = None,
        max_rounds: int | None = None,
        feed: FeedFactory = _default_feed,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec_file = Path(spec_file)
        self.deps = deps
        self.view = view
        self.settle_s = settle_s
        self.stop = stop if stop is not None else threading.Event()
        self.max_rounds = max_rounds
        self._feed = feed
        self._clock = clock
        self.rounds = 0
        self.results: list[RoundResult] = []
        self.ws = fallback_watch_set(self.spec_file)
        self._applied = ""  # digest of the watched bytes the last round saw

    def _done(self) -> bool:
        return self.stop.is_set() or (
            self.max_rounds is not None and self.rounds >= self.max_rounds
        )

    def run(self) -> RoundResult | None:
        """Run until stopped; return the last round's result."""
        self._round(())
        while not self._done():
            with self._feed(self.ws, self.stop) as feed:
                self.view.watching(self.ws)
                changes: Iterator[AbstractSet[FileChange]] = iter(feed)
                if digest(self.ws) != self._applied:  # saved while the watcher (re)started:
                    changes = itertools.chain([_MISSED], changes)  # settle it like any save
                while not self._done():
                    batch = settle(changes, self.settle_s, self._clock)
                    if batch is None:
                        break
                    if digest(self.ws) == self._applied:  # touched, or saved unchanged
                        continue
                    if self._round(_paths(batch)):
                        break  # restart the watcher on the new set
        return self.results[-1] if self.results else None

    def _round(self, changed: tuple[str, ...]) -> bool:
        """Run one round; True when the watch set changed (the watcher must restart)."""
        before = digest(self.ws)  # what this round reads is at least this new
        followed: list[tuple[WatchSet, str]] = []

        def resolve() -> ResolvedSpec:
            resolved = self.deps.resolve()
            ws = watch_set(resolved)
            # digest a new set at once: saves made during the apply must still count as changes
            followed.append((ws, before if ws == self.ws else digest(ws)))
            return resolved

        self.rounds += 1
        self.view.round_started(self.rounds, changed)
        deps = RoundDeps(resolve=resolve, plan=self.deps.plan, apply=self.deps.apply)
        result = run_round(self.rounds, deps, self._clock)
        self.results.append(result)
        self.view.round_finished(result)
        self._applied = before
        if not followed:
            return False  # invalid: keep watching what we watched
        ws, self._applied = followed[-1]
        if result.session is not None and result.resolved is not None:
            ws = watch_set(result.resolved, result.session)  # compiled build contexts
        if ws == self.ws:
            return False
        if ws != followed[-1][0]:
            self._applied = digest(ws)
        self.ws = ws
        return True


_MISSED: frozenset[FileChange] = frozenset({(None, "")})  # a change seen only by its digest


def _paths(batch: AbstractSet[FileChange]) -> tuple[str, ...]:
    return tuple(sorted({path for _change, path in batch if path}))
