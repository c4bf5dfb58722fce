"""`aifo apply --watch` against a real engine: the watcher runs in a thread; edits are made on disk.

Each test applies two busybox containers, edits, and checks Docker by container ID.
"""

from __future__ import annotations

import io
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rich.console import Console

from aifo.ui.watch import TextWatchView
from aifo.watch import Applied, RoundResult, Watcher, WatchSet
from tests.poll import until
from tests.watch.helpers import atomic_write, write_spec

pytestmark = [pytest.mark.docker, pytest.mark.timeout(60)]


def container_ids(session: str) -> dict[str, str]:
    """Docker name → container ID of the session's running containers (mid-replace: also the
    `.next` one; a stopped container shows as `NAME (exited)`)."""
    out = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            f"label=io.aifo.session={session}",
            "--format",
            "{{.Names}} {{.ID}} {{.State}}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    ids = {}
    for line in out.splitlines():
        name, cid, state = line.split()
        ids[name if state == "running" else f"{name} ({state})"] = cid
    return ids


def replaced(session: str, name: str, old_id: str) -> Callable[[], bool]:
    """True once `name` runs with a new ID and the replace has committed (no `.next` left)."""

    def check() -> bool:
        ids = container_ids(session)
        return ids.get(name) not in (None, old_id) and not any(".next" in n for n in ids)

    return check


@dataclass
class Recorder:
    """A WatchView that renders text into a buffer and records rounds, thread-safely."""

    out: io.StringIO = field(default_factory=io.StringIO)
    results: list[RoundResult] = field(default_factory=list)
    watched: list[WatchSet] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self.text = TextWatchView(Console(file=self.out, width=200))

    def watching(self, ws: WatchSet) -> None:
        with self.lock:
            self.watched.append(ws)
        self.text.watching(ws)

    def round_started(self, number: int, changed: tuple[str, ...]) -> None:
        self.text.round_started(number, changed)

    def round_finished(self, result: RoundResult) -> None:
        self.text.round_finished(result)
        with self.lock:
            self.results.append(result)
            self.lock.notify_all()

    def wait_rounds(self, count: int, timeout_s: float = 10.0) -> list[RoundResult]:
        """Block until `count` rounds finished (an event, not a timing window)."""
        with self.lock:
            if not self.lock.wait_for(lambda: len(self.results) >= count, timeout_s):
                raise AssertionError(f"{count} rounds not finished: {self.out.getvalue()}")
            return list(self.results)

    def applied(self) -> int:
        with self.lock:
            return sum(isinstance(r.outcome, Applied) for r in self.results)

    def finished(self) -> int:
        with self.lock:
            return len(self.results)


@dataclass
class Running:
    spec: Path
    session: str
    view: Recorder
    watcher: Watcher
    thread: threading.Thread


@pytest.fixture
def watching(
    tmp_path: Path, session_name: str, state_dir: Path, busybox_image: str
) -> Iterator[Callable[..., Running]]:
    from aifo.commands.apply_watch import Stages

    started: list[Running] = []

    def start(**spec_kw: object) -> Running:
        spec = write_spec(tmp_path, session_name, image=busybox_image, **spec_kw)  # type: ignore[arg-type]
        view = Recorder()
        watcher = Watcher(spec, Stages(spec).deps(), view, settle_s=0.3)
        thread = threading.Thread(target=watcher.run, daemon=True)
        thread.start()
        running = Running(spec, session_name, view, watcher, thread)
        started.append(running)
        until(lambda: view.finished() >= 1 and bool(view.watched), 30)
        assert view.applied() == 1, view.out.getvalue()
        return running

    yield start
    for running in started:
        running.watcher.stop.set()
        running.thread.join(timeout=20)
        assert not running.thread.is_alive()


def _edit(running: Running, atomic: bool, **kw: object) -> None:
    text = write_spec(running.spec.parent, running.session, **kw).read_text(encoding="utf-8")  # type: ignore[arg-type]
    if atomic:
        atomic_write(running.spec, text)
    else:
        running.spec.write_text(text, encoding="utf-8")


@pytest.mark.parametrize("atomic", [False, True], ids=["in-place", "atomic-save"])
@pytest.mark.slow
def test_env_edit_replaces_exactly_that_container(
    watching: Callable[..., Running], busybox_image: str, atomic: bool
) -> None:
    running = watching()
    a, b = (f"aifo-{running.session}-{n}" for n in ("a", "b"))
    before = container_ids(running.session)
    assert set(before) == {a, b}
    rewrite = running.spec.read_text(encoding="utf-8").replace("GREETING: one", "GREETING: two")
    start = time.monotonic()
    if atomic:
        atomic_write(running.spec, rewrite)
    else:
        running.spec.write_text(rewrite, encoding="utf-8")
    until(replaced(running.session, a, before[a]), 5)
    latency = time.monotonic() - start
    running.view.wait_rounds(2, 10)
    after = container_ids(running.session)
    assert after[b] == before[b] and set(after) == {a, b}
    print(f"edit → replaced: {latency:.2f}s")  # noqa: T201 - measured, shown with -s


@pytest.mark.slow
def test_invalid_edit_prints_located_error_and_touches_nothing(
    watching: Callable[..., Running],
) -> None:
    running = watching()
    before = container_ids(running.session)
    text = running.spec.read_text(encoding="utf-8")
    atomic_write(running.spec, text.replace("GREETING: one", "GREETING: [two"))
    running.view.wait_rounds(2, 10)
    out = running.view.out.getvalue()
    assert f"{running.spec}:" in out or "aifo.yaml:" in out, out
    assert "round 2: invalid" in out
    assert container_ids(running.session) == before  # the round is over: it touched nothing
    # fixed: converges again
    atomic_write(running.spec, text.replace("GREETING: one", "GREETING: fixed"))
    until(lambda: running.view.applied() >= 2, 10)


@pytest.mark.slow
def test_extended_profile_change_is_picked_up(watching: Callable[..., Running]) -> None:
    running = watching()
    profiles = running.spec.parent / ".aifo" / "profiles"
    profiles.mkdir(parents=True)
    profile = profiles / "x.yaml"
    profile.write_text("agents: {b: {env: {FROM_PROFILE: '1'}}}\n", encoding="utf-8")
    before = container_ids(running.session)
    b = f"aifo-{running.session}-b"
    _edit(running, True, extends=("x",))  # now extends x: b gets FROM_PROFILE
    until(replaced(running.session, b, before[b]), 10)
    middle = container_ids(running.session)
    assert middle[f"aifo-{running.session}-a"] == before[f"aifo-{running.session}-a"]
    until(lambda: any(str(profiles) in ws.files for ws in running.view.watched), 5)
    atomic_write(profile, "agents: {b: {env: {FROM_PROFILE: '2'}}}\n")
    until(replaced(running.session, b, middle[b]), 10)


@pytest.mark.slow
def test_burst_of_twenty_writes_is_one_apply(watching: Callable[..., Running]) -> None:
    running = watching()
    before = container_ids(running.session)
    text = running.spec.read_text(encoding="utf-8")
    for i in range(20):
        running.spec.write_text(text.replace("GREETING: one", f"GREETING: v{i}"), encoding="utf-8")
    a = f"aifo-{running.session}-a"
    until(replaced(running.session, a, before[a]), 10)
    assert [type(r.outcome) for r in running.view.wait_rounds(2)] == [Applied, Applied]
    # A marker edit must be the very next round: a second round for the burst would come first.
    middle = container_ids(running.session)
    running.spec.write_text(text.replace("GREETING: one", "GREETING: marker"), encoding="utf-8")
    until(replaced(running.session, a, middle[a]), 10)
    rounds = running.view.wait_rounds(3)
    assert [type(r.outcome) for r in rounds] == [Applied] * 3, running.view.out.getvalue()


@pytest.mark.slow
def test_build_context_change_rebuilds(
    tmp_path: Path, session_name: str, state_dir: Path, busybox_image: str
) -> None:
    from aifo.commands.apply_watch import Stages

    ctx = tmp_path / "img"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {busybox_image}\nCOPY version /version\n")
    (ctx / "version").write_text("1\n", encoding="utf-8")
    spec = write_spec(tmp_path, session_name, image=busybox_image)
    text = spec.read_text(encoding="utf-8").replace(
        f"    image: {busybox_image}\n    pull: never\n", "    image: {build: {context: img}}\n", 1
    )
    spec.write_text(text, encoding="utf-8")
    view = Recorder()
    watcher = Watcher(spec, Stages(spec).deps(), view, settle_s=0.3)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    built: list[str] = []
    try:
        until(lambda: view.finished() >= 1 and bool(view.watched), 30)
        assert view.applied() == 1, view.out.getvalue()
        assert str(ctx) in view.watched[-1].recursive
        a = f"aifo-{session_name}-a"
        before = container_ids(session_name)
        (ctx / "version").write_text("2\n", encoding="utf-8")
        until(replaced(session_name, a, before[a]), 20)
        assert (
            container_ids(session_name)[f"aifo-{session_name}-b"]
            == before[f"aifo-{session_name}-b"]
        )
    finally:
        watcher.stop.set()
        thread.join(timeout=20)
        remove = ["docker", "rm", "-f"]  # the images are in use until the containers go
        remove += container_ids(session_name).values()
        subprocess.run(remove, capture_output=True, timeout=60)
        built = subprocess.run(
            ["docker", "images", "-q", "--filter", f"reference=aifo-{session_name}-*"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.split()
        if built:
            subprocess.run(["docker", "rmi", "-f", *built], capture_output=True, timeout=60)
