"""`aifo apply --watch`, the composition root: the real stages of a watch round over the
reconciler's pipeline (aifo.watch runs them), the views (aifo.ui.watch), and the command's body.

plan = compile + observe + plan, without the session lock (a preview deciding whether to apply);
apply = `pipeline.apply_compiled`, which locks, recovers, observes and plans again, then applies
transactionally, exactly as `aifo apply --yes`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aifo.apply import PARALLEL
from aifo.watch.loop import Planned, RoundDeps, Watcher, WatchView

if TYPE_CHECKING:
    from aifo.apply.events import Emit, Notify
    from aifo.engine.api import Engine
    from aifo.sessionspec import ResolvedSpec


class Stages:
    """resolve / plan / apply of one spec; connects to Docker lazily (again after a failure)."""

    def __init__(
        self,
        spec_file: str | Path,
        profiles: Sequence[str] = (),
        *,
        parallel: int = PARALLEL,
        lock_timeout: float = 30.0,
        emit: Emit | None = None,
        notify: Notify | None = None,
        cancel: threading.Event | None = None,
        session: str | None = None,
    ) -> None:
        self.spec_file = spec_file
        self.session = session
        self.profiles = tuple(profiles)
        self.parallel = parallel
        self.lock_timeout = lock_timeout
        self.emit = emit
        self.notify = notify
        self.cancel = cancel
        self._engine: Engine | None = None

    def deps(self) -> RoundDeps:
        return RoundDeps(resolve=self.resolve, plan=self.plan, apply=self.apply)

    def engine(self) -> Engine:
        from aifo import pipeline

        if self._engine is None:
            self._engine = pipeline.connect()
        return self._engine

    def resolve(self) -> ResolvedSpec:
        from aifo.pipeline import resolve

        return resolve(self.spec_file, self.profiles, self.session)

    def plan(self, resolved: ResolvedSpec) -> Planned:
        from aifo import pipeline
        from aifo.errors import EngineError

        engine = self.engine()
        compiled = pipeline.compile_resolved(
            resolved, apparmor=pipeline.apparmor(engine), engine=engine
        )
        try:
            snapshot = pipeline.observe(self.engine(), compiled.session)
        except EngineError:
            self._engine = None
            raise
        plan = pipeline.make_plan(compiled, snapshot)
        return Planned(plan.lines(), handle=compiled, session=compiled.session)

    def apply(self, planned: Planned) -> Sequence[str]:
        from aifo import pipeline

        assert isinstance(planned.handle, pipeline.Compiled)
        result = pipeline.apply_compiled(
            self.engine(),
            planned.handle,
            emit=self.emit,
            notify=self.notify,
            cancel=self.cancel,
            parallel=self.parallel,
            lock_timeout=self.lock_timeout,
        )
        return result.plan.lines()

    def destroy(self, session: str) -> None:
        """`aifo destroy --yes` of the session (for --down-on-exit)."""
        from aifo import pipeline

        engine = self.engine()
        notify = self.notify or (lambda _m: None)
        with pipeline.prepare_destroy(
            engine,
            session,
            command="apply --watch",
            notify=notify,
            lock_timeout=self.lock_timeout,
        ) as found:
            pipeline.execute_destroy(engine, session, found, emit=self.emit)


def run_watch(
    spec_file: str,
    profiles: Sequence[str],
    *,
    settle_ms: int,
    output: str,
    down_on_exit: bool,
    parallel: int,
    lock_timeout: float,
    session: str | None = None,
) -> int:
    """`aifo apply FILE --watch`: apply, then a round per settled save, until Ctrl-C."""
    from rich.console import Console

    from aifo.apply.cancel import cancel_on_signals
    from aifo.apply.events import Event
    from aifo.ui.events import JsonLines
    from aifo.ui.watch import JsonWatchView, TextWatchView

    stop, cancel = threading.Event(), threading.Event()
    view: WatchView
    emit: Emit
    if output == "json":
        jsonl = JsonLines()
        json_view = JsonWatchView(jsonl.write)
        view, emit = json_view, jsonl
        notify: Notify = lambda message: jsonl(Event("note", message=message))  # noqa: E731
        stopped = json_view.stopped
    else:
        text_view = TextWatchView(Console(), base_dir=Path(spec_file).absolute().parent)
        view, emit, notify, stopped = text_view, text_view.event, text_view.note, text_view.stopped
    stages = Stages(
        spec_file,
        profiles,
        parallel=parallel,
        lock_timeout=lock_timeout,
        emit=emit,
        notify=notify,
        cancel=cancel,
        session=session,
    )
    watcher = Watcher(spec_file, stages.deps(), view, settle_s=settle_ms / 1000, stop=stop)
    destroyed = False
    try:
        with cancel_on_signals(stop, cancel):
            watcher.run()
        if down_on_exit:
            session = _session_name(watcher)
            if session is None:
                notify("--down-on-exit: the spec never resolved; nothing to destroy")
            else:
                stages.destroy(session)
                destroyed = True
    finally:
        stopped(destroyed=destroyed)
    return 0


def _session_name(watcher: Watcher) -> str | None:
    for result in reversed(watcher.results):
        if result.resolved is not None:
            return str(result.resolved.data["session"])
    return None
