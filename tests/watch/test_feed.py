"""ChangeFeed over real watchfiles (no Docker): atomic saves, filtering, bursts, contexts.

No timing windows: each test waits on the feed itself (settle returns a burst, or None once the
feed stopped), and "nothing else arrived" is proven by a marker change that must come alone.
settle's timing is tested with an injected clock in test_core.py."""

from __future__ import annotations

import threading
from pathlib import Path

from aifo.watch import make_watch_set, settle
from aifo.watch.feed import ChangeFeed
from tests.watch.helpers import atomic_write


def _next_burst(feed: ChangeFeed, settle_s: float = 0.3) -> set[str] | None:
    batch = settle(iter(feed), settle_s)
    return None if batch is None else {path for _c, path in batch}


def test_atomic_save_is_noticed_and_others_filtered(tmp_path: Path) -> None:
    spec = tmp_path / "aifo.yaml"
    spec.write_text("a\n", encoding="utf-8")
    ws = make_watch_set([spec, tmp_path / ".env"])
    stop = threading.Event()
    with ChangeFeed(ws, stop) as feed:
        (tmp_path / "unrelated.txt").write_text("x", encoding="utf-8")
        atomic_write(spec, "b\n")
        assert _next_burst(feed) == {str(spec)}
        atomic_write(spec, "c\n")  # the second atomic save is seen too (the dir is watched)
        assert _next_burst(feed) == {str(spec)}
        (tmp_path / ".env").write_text("A=1\n", encoding="utf-8")
        assert _next_burst(feed) == {str(tmp_path / ".env")}  # alone: nothing else was pending
        stop.set()
        assert _next_burst(feed) is None  # a stopped feed ends


def test_burst_of_twenty_writes_settles_once(tmp_path: Path) -> None:
    spec, marker = tmp_path / "aifo.yaml", tmp_path / ".env"
    spec.write_text("0\n", encoding="utf-8")
    stop, written = threading.Event(), threading.Event()
    with ChangeFeed(make_watch_set([spec, marker]), stop) as feed:

        def burst() -> None:
            for i in range(20):
                spec.write_text(f"{i}\n", encoding="utf-8")
            written.set()

        threading.Thread(target=burst, daemon=True).start()
        assert _next_burst(feed) == {str(spec)}
        assert written.is_set()  # it settled only once the burst was over
        marker.write_text("A=1\n", encoding="utf-8")
        assert _next_burst(feed) == {str(marker)}  # alone: no second batch of the burst
        stop.set()


def test_recursive_build_context(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    (ctx / "src").mkdir(parents=True)
    stop = threading.Event()
    with ChangeFeed(make_watch_set([tmp_path / "aifo.yaml"], [ctx]), stop) as feed:
        (ctx / "src" / "main.c").write_text("int main;\n", encoding="utf-8")
        assert _next_burst(feed) == {str(ctx / "src" / "main.c")}
        stop.set()
