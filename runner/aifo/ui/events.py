"""JSON Lines events (`--output json`): one object per line, flushed, safe across threads."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

from aifo.apply.events import Event


class JsonLines:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self._lock = threading.Lock()

    def write(self, payload: dict[str, Any]) -> None:
        line = json.dumps(payload, sort_keys=False, separators=(",", ":"), default=str)
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def __call__(self, event: Event) -> None:
        self.write(event.to_dict())
