"""A live feed of file changes for a WatchSet, built on watchfiles (imported lazily).

watchfiles' recursion is per watcher, so parent directories (non-recursive, filtered to the files
of interest) and build contexts (recursive) get one watcher thread each; both feed one queue.
Parent directories, not the files: a watched file path loses track of the file after an editor's
atomic save (write a temporary file, rename it over the original).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from types import TracebackType
from typing import Any

from aifo.watch.core import FileChange, WatchSet

ChangeFilter = Callable[[Any, str], bool]


class _Either:
    """`is_set()` of either event: watchfiles' stop_event protocol."""

    def __init__(self, a: threading.Event, b: threading.Event) -> None:
        self._a, self._b = a, b

    def is_set(self) -> bool:
        return self._a.is_set() or self._b.is_set()


class ChangeFeed:
    """`with ChangeFeed(ws, stop) as feed: for batch in feed: ...` — batches of changes, and an
    empty batch every `tick_s` while idle (settle's clock). Ends when `stop` is set."""

    def __init__(
        self,
        ws: WatchSet,
        stop: threading.Event,
        *,
        tick_s: float = 0.05,
        step_ms: int = 50,
        ready_timeout_s: float = 5.0,
    ) -> None:
        self.ws = ws
        self._stop = stop
        self._closing = threading.Event()
        self._halt = _Either(stop, self._closing)
        self._tick_s = tick_s
        self._step_ms = step_ms
        self._ready_timeout_s = ready_timeout_s
        self._queue: queue.Queue[AbstractSet[FileChange] | BaseException] = queue.Queue()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> ChangeFeed:
        from watchfiles import DefaultFilter

        groups: list[tuple[list[str], bool, ChangeFilter]] = []
        if self.ws.files:
            groups.append((sorted(self.ws.files), False, self._is_watched_file))
        if self.ws.recursive:
            default = DefaultFilter()
            groups.append((sorted(self.ws.recursive), True, default))
        readies = []
        for paths, recursive, accept in groups:
            ready = threading.Event()
            thread = threading.Thread(
                target=self._run,
                args=(paths, recursive, accept, ready),
                name=f"aifo-watch-{'r' if recursive else 'f'}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
            readies.append(ready)
        for ready in readies:  # changes made before the watchers exist would be lost
            ready.wait(self._ready_timeout_s)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def __iter__(self) -> Iterator[AbstractSet[FileChange]]:
        while not self._halt.is_set():
            try:
                item = self._queue.get(timeout=self._tick_s)
            except queue.Empty:
                yield frozenset()
                continue
            if isinstance(item, BaseException):
                raise item
            yield item

    def _is_watched_file(self, _change: Any, path: str) -> bool:
        return self.ws.matches(path)

    def _run(
        self, paths: list[str], recursive: bool, accept: ChangeFilter, ready: threading.Event
    ) -> None:
        from watchfiles import watch

        existing = [p for p in paths if _is_dir(p)]
        try:
            if not existing:
                return
            for batch in watch(
                *existing,
                watch_filter=accept,
                recursive=recursive,
                stop_event=self._halt,
                step=self._step_ms,
                rust_timeout=max(self._step_ms * 2, 100),
                yield_on_timeout=True,  # the first yield proves the watcher exists
                raise_interrupt=False,
            ):
                ready.set()
                if batch:
                    self._queue.put(frozenset(batch))
        except Exception as exc:  # noqa: BLE001 - handed to the consuming thread
            self._queue.put(exc)
        finally:
            ready.set()


def _is_dir(path: str) -> bool:
    import os

    return os.path.isdir(path)
