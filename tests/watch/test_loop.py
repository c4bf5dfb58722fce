"""Unit tests (no Docker): run_round outcomes and the Watcher loop with a scripted feed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from aifo.errors import ApplyFailed, EngineError, SpecError
from aifo.issue import Issue
from aifo.sessionspec import ResolvedSpec, resolve
from aifo.watch import (
    Applied,
    Failed,
    Invalid,
    NoChange,
    Planned,
    RoundDeps,
    RoundResult,
    Watcher,
    WatchSet,
    run_round,
)
from tests.watch.helpers import atomic_write, write_spec

Step = Callable[[], set[tuple[int, str]]]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class View:
    def __init__(self) -> None:
        self.watched: list[WatchSet] = []
        self.started: list[tuple[int, tuple[str, ...]]] = []
        self.finished: list[RoundResult] = []

    def watching(self, ws: WatchSet) -> None:
        self.watched.append(ws)

    def round_started(self, number: int, changed: tuple[str, ...]) -> None:
        self.started.append((number, changed))

    def round_finished(self, result: RoundResult) -> None:
        self.finished.append(result)


class Scripted:
    """A feed factory: each step edits files and returns its batch, then idle ticks follow;
    when the script is exhausted the stop event is set."""

    def __init__(self, clock: Clock, steps: list[Step]) -> None:
        self.clock = clock
        self.steps = steps
        self.opened: list[WatchSet] = []

    @contextmanager
    def __call__(
        self, ws: WatchSet, stop: threading.Event
    ) -> Iterator[Iterator[set[tuple[int, str]]]]:
        self.opened.append(ws)
        yield self._iterate(stop)

    def _iterate(self, stop: threading.Event) -> Iterator[set[tuple[int, str]]]:
        for _ in range(8):  # 0.4 s of quiet: a change the watcher missed can settle
            self.clock.now += 0.05
            yield set()
        while self.steps and not stop.is_set():
            batch = self.steps.pop(0)()
            self.clock.now += 0.05
            yield batch
            for _ in range(8):
                self.clock.now += 0.05
                yield set()
        stop.set()


class Pipeline:
    """Fake plan/apply over the real resolver: the plan lists the env value of agent a."""

    def __init__(self, spec: Path) -> None:
        self.spec = spec
        self.applied: list[str] = []
        self.state: str | None = None
        self.fail_next = False

    def deps(self) -> RoundDeps:
        return RoundDeps(
            resolve=lambda: resolve(self.spec, environ={}), plan=self.plan, apply=self.apply
        )

    def plan(self, resolved: ResolvedSpec) -> Planned:
        want = str(resolved.data["agents"]["a"].get("env", {}).get("GREETING"))
        if want == self.state:
            return Planned(changes=())
        return Planned(changes=(f"replace agent/a (GREETING={want})",), handle=want)

    def apply(self, planned: Planned) -> None:
        if self.fail_next:
            self.fail_next = False
            raise ApplyFailed(EngineError("boom"))
        self.applied.append(str(planned.handle))
        self.state = str(planned.handle)


def _spec_ok() -> ResolvedSpec:
    return ResolvedSpec(
        data={},
        file=Path("/x/aifo.yaml"),
        base_dir=Path("/x"),
        provenance={},
        sources=(),
        warnings=(),
    )


def test_run_round_outcomes() -> None:
    def boom_spec() -> ResolvedSpec:
        raise SpecError([Issue(None, "session", "required")])

    def plan_some(_r: ResolvedSpec) -> Planned:
        return Planned(changes=("create network/n",))

    def apply_fails(_p: Planned) -> None:
        raise ApplyFailed(EngineError("boom"))

    invalid = run_round(1, RoundDeps(boom_spec, plan_some, lambda p: None))
    assert isinstance(invalid.outcome, Invalid) and invalid.outcome.issues[0].path == "session"
    nochange = run_round(2, RoundDeps(_spec_ok, lambda r: Planned(()), apply_fails))
    assert isinstance(nochange.outcome, NoChange)
    applied = run_round(3, RoundDeps(_spec_ok, plan_some, lambda p: None))
    assert isinstance(applied.outcome, Applied)
    assert applied.outcome.changes == ("create network/n",)
    failed = run_round(4, RoundDeps(_spec_ok, plan_some, apply_fails))
    assert isinstance(failed.outcome, Failed) and "boom" in str(failed.outcome.error)


def test_run_round_compile_error_is_invalid() -> None:
    def plan(_r: ResolvedSpec) -> Planned:
        raise SpecError([Issue(None, "agents.a.image", "no such image")])

    result = run_round(1, RoundDeps(_spec_ok, plan, lambda p: None))
    assert isinstance(result.outcome, Invalid) and result.resolved is not None


def _watch(tmp_path: Path, steps: list[Step], **kw: object) -> tuple[Pipeline, View, Scripted]:
    spec = tmp_path / "aifo.yaml"
    pipeline = Pipeline(spec)
    view, clock = View(), Clock()
    feed = Scripted(clock, steps)
    watcher = Watcher(spec, pipeline.deps(), view, feed=feed, clock=clock, **kw)  # type: ignore[arg-type]
    watcher.run()
    return pipeline, view, feed


def _edit(spec: Path, **kw: object) -> Step:
    def step() -> set[tuple[int, str]]:
        text = write_spec(spec.parent, "demo", **kw).read_text(encoding="utf-8")  # type: ignore[arg-type]
        atomic_write(spec, text)
        return {(1, str(spec))}

    return step


def _touch(path: Path) -> Step:
    def step() -> set[tuple[int, str]]:
        path.write_bytes(path.read_bytes())
        return {(2, str(path))}

    return step


def test_watcher_applies_then_each_change(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "demo")
    pipeline, view, _ = _watch(
        tmp_path, [_edit(spec, env_a="two"), _touch(spec), _edit(spec, env_a="three")]
    )
    assert pipeline.applied == ["one", "two", "three"]
    assert [n for n, _c in view.started] == [1, 2, 3]  # the touch was skipped: same bytes
    assert view.started[1][1] == (str(spec),)


def test_watcher_unchanged_plan_is_a_nochange_round(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "demo")
    comment = _edit(spec)

    def step() -> set[tuple[int, str]]:
        comment()
        spec.write_text(spec.read_text(encoding="utf-8") + "# a comment\n", encoding="utf-8")
        return {(2, str(spec))}

    pipeline, view, _ = _watch(tmp_path, [step])
    assert pipeline.applied == ["one"]
    assert isinstance(view.finished[-1].outcome, NoChange)


def test_watcher_invalid_then_fixed(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "demo")
    good = spec.read_text(encoding="utf-8")

    def break_it() -> set[tuple[int, str]]:
        atomic_write(spec, good.replace("command:", "comand:", 1))
        return {(1, str(spec))}

    def fix_it() -> set[tuple[int, str]]:
        atomic_write(spec, good.replace("GREETING: one", "GREETING: fixed"))
        return {(1, str(spec))}

    pipeline, view, _ = _watch(tmp_path, [break_it, fix_it])
    kinds = [type(r.outcome).__name__ for r in view.finished]
    assert kinds == ["Applied", "Invalid", "Applied"]
    issue = view.finished[1].outcome.issues[0]  # type: ignore[union-attr]
    assert issue.location is not None and issue.location.line == 7
    assert pipeline.applied == ["one", "fixed"]


def test_watcher_failed_round_keeps_watching(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "demo")
    pipeline = Pipeline(spec)

    def fail_then_edit() -> set[tuple[int, str]]:
        pipeline.fail_next = True
        return _edit(spec, env_a="two")()

    view, clock = View(), Clock()
    feed = Scripted(clock, [fail_then_edit, _edit(spec, env_a="three")])
    Watcher(spec, pipeline.deps(), view, feed=feed, clock=clock).run()
    kinds = [type(r.outcome).__name__ for r in view.finished]
    assert kinds == ["Applied", "Failed", "Applied"]
    assert pipeline.applied == ["one", "three"]


def test_watcher_follows_a_new_profile(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "demo")
    profiles = tmp_path / ".aifo" / "profiles"
    profiles.mkdir(parents=True)
    profile = profiles / "x.yaml"
    profile.write_text("agents: {a: {env: {GREETING: from-profile}}}\n", encoding="utf-8")
    text = spec.read_text(encoding="utf-8")

    def extend() -> set[tuple[int, str]]:
        # the profile sets GREETING; the spec no longer does
        atomic_write(
            spec,
            text.replace("version: 1\n", "version: 1\nextends: [x]\n").replace(
                "    env:\n      GREETING: one\n", ""
            ),
        )
        return {(1, str(spec))}

    def edit_profile() -> set[tuple[int, str]]:
        atomic_write(profile, "agents: {a: {env: {GREETING: edited}}}\n")
        return {(1, str(profile))}

    pipeline, view, feed = _watch(tmp_path, [extend, edit_profile])
    assert pipeline.applied == ["one", "from-profile", "edited"]
    assert len(feed.opened) == 2  # restarted on the new set
    assert str(profiles) not in feed.opened[0].files and str(profiles) in feed.opened[1].files


def test_watcher_catches_a_save_made_while_restarting(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "demo")
    pipeline = Pipeline(spec)
    original = pipeline.apply

    def apply_and_edit(planned: Planned) -> None:
        original(planned)
        if planned.handle == "one":  # the user saves during the first apply
            write_spec(tmp_path, "demo", env_a="during")

    deps = RoundDeps(pipeline.deps().resolve, pipeline.plan, apply_and_edit)
    view, clock = View(), Clock()
    Watcher(spec, deps, view, feed=Scripted(clock, []), clock=clock, max_rounds=2).run()
    assert pipeline.applied == ["one", "during"]


def test_watcher_max_rounds_and_stop(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "demo")
    steps = [_edit(spec, env_a=f"v{i}") for i in range(5)]
    pipeline, view, _ = _watch(tmp_path, steps, max_rounds=3)
    assert pipeline.applied == ["one", "v0", "v1"]
    stop = threading.Event()
    stop.set()
    pipeline2, view2, _ = _watch(tmp_path, [_edit(spec, env_a="x")], stop=stop)
    assert len(view2.finished) == 1  # the initial apply only
