"""Unit tests (no Docker): watch set computation, settle, digest."""

from __future__ import annotations

import os
from pathlib import Path

from aifo.model import Build, Image, Session
from aifo.sessionspec import resolve
from aifo.watch import digest, fallback_watch_set, make_watch_set, settle, watch_set
from tests.watch.helpers import write_spec


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def ticking(clock: Clock, script: list[tuple[float, set[tuple[int, str]]]]):  # type: ignore[no-untyped-def]
    """Yield each batch at its time (seconds since start)."""
    for at, batch in script:
        clock.now = at
        yield batch


def test_settle_waits_for_quiet_after_the_last_change() -> None:
    clock = Clock()
    a, b = (1, "/x/a"), (2, "/x/b")
    script = [(0.0, set()), (0.1, {a}), (0.2, set()), (0.35, {b}), (0.5, set()), (0.64, set())]
    script += [(0.66, set()), (9.0, {(1, "/x/late")})]
    feed = ticking(clock, script)
    assert settle(feed, 0.3, clock) == frozenset({a, b})
    assert clock.now == 0.66  # 0.31 s after the last change, not after the first
    assert settle(feed, 0.3, clock) is None  # the feed ended before the next burst settled


def test_settle_idle_ticks_alone_return_nothing_until_the_feed_ends() -> None:
    clock = Clock()
    assert settle(ticking(clock, [(t / 10, set()) for t in range(50)]), 0.3, clock) is None


def test_settle_burst_of_twenty_writes_is_one_batch() -> None:
    clock = Clock()
    script = [(i * 0.02, {(2, f"/x/f{i}")}) for i in range(20)]
    script += [(0.38 + i * 0.05, set()) for i in range(10)]
    result = settle(ticking(clock, script), 0.3, clock)
    assert result is not None and len(result) == 20


def test_watch_set_parent_dirs_profiles_dotenv(tmp_path: Path) -> None:
    profiles = tmp_path / ".aifo" / "profiles"
    profiles.mkdir(parents=True)
    (profiles / "x.yaml").write_text("agents: {a: {env: {EXTRA: '1'}}}\n", encoding="utf-8")
    spec = write_spec(tmp_path, "demo", extends=("x",))
    ws = watch_set(resolve(spec, environ={}))
    assert dict(ws.files) == {
        str(tmp_path): frozenset({"aifo.yaml", ".env"}),  # .env even though it does not exist
        str(profiles): frozenset({"x.yaml"}),
    }
    assert ws.recursive == frozenset()
    assert ws.matches(str(profiles / "x.yaml")) and not ws.matches(str(profiles / "y.yaml"))
    assert not ws.matches(str(tmp_path / "aifo.yaml.tmp1"))


def test_watch_set_follows_extends(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "demo")
    before = watch_set(resolve(spec, environ={}))
    (tmp_path / ".aifo" / "profiles").mkdir(parents=True)
    (tmp_path / ".aifo" / "profiles" / "x.yaml").write_text("{}\n", encoding="utf-8")
    write_spec(tmp_path, "demo", extends=("x",))
    after = watch_set(resolve(spec, environ={}))
    assert after != before
    assert str(tmp_path / ".aifo" / "profiles") in after.files


def test_watch_set_build_contexts_recursive(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "demo")
    ctx = tmp_path / "ctx"
    session = Session(
        name="demo",
        images=(
            Image(ref="aifo-demo-a:1", build=Build(context=str(ctx))),
            Image(ref="busybox:latest"),
        ),
    )
    ws = watch_set(resolve(spec, environ={}), session)
    assert ws.recursive == frozenset({str(ctx)})
    assert ws.matches(str(ctx / "deep" / "Dockerfile"))
    assert not ws.matches(str(tmp_path / "ctxfile"))


def test_watch_set_build_contexts_from_resolved_data(tmp_path: Path) -> None:
    ctx = tmp_path / "img"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    spec = write_spec(tmp_path, "demo")
    text = spec.read_text(encoding="utf-8").replace(
        "    image: aifo-test/busybox:latest\n    pull: never\n    command",
        "    image: {build: {context: img}}\n    command",
        1,
    )
    spec.write_text(text, encoding="utf-8")
    assert watch_set(resolve(spec, environ={})).recursive == frozenset({str(ctx)})


def test_fallback_watch_set(tmp_path: Path) -> None:
    ws = fallback_watch_set(tmp_path / "aifo.yaml")
    assert dict(ws.files) == {str(tmp_path): frozenset({"aifo.yaml", ".env"})}


def test_digest_tracks_bytes_not_timestamps(tmp_path: Path) -> None:
    spec = tmp_path / "aifo.yaml"
    spec.write_text("a: 1\n", encoding="utf-8")
    ws = make_watch_set([spec, tmp_path / ".env"])
    first = digest(ws)
    os.utime(spec, (1, 1))
    spec.write_text("a: 1\n", encoding="utf-8")  # saved, unchanged
    assert digest(ws) == first
    (tmp_path / ".env").write_text("", encoding="utf-8")  # created, even empty: a change
    assert digest(ws) != first
    (tmp_path / "other.txt").write_text("x", encoding="utf-8")  # not watched
    second = digest(ws)
    (tmp_path / "other.txt").write_text("y", encoding="utf-8")
    assert digest(ws) == second


def test_digest_recursive_context(tmp_path: Path) -> None:
    (tmp_path / "ctx" / "sub").mkdir(parents=True)
    (tmp_path / "ctx" / "sub" / "f").write_text("1", encoding="utf-8")
    ws = make_watch_set([], [tmp_path / "ctx"])
    first = digest(ws)
    (tmp_path / "ctx" / "sub" / "f").write_text("2", encoding="utf-8")
    assert digest(ws) != first
    second = digest(ws)
    (tmp_path / "ctx" / ".git").mkdir()
    (tmp_path / "ctx" / ".git" / "HEAD").write_text("x", encoding="utf-8")
    assert digest(ws) == second
