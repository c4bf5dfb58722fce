"""The one poll helper of the tests: wait for something the test cannot be told about."""

from __future__ import annotations

import time
from collections.abc import Callable


def until(
    check: Callable[[], bool],
    timeout_s: float = 30.0,
    *,
    what: str | Callable[[], str] = "the condition",
    interval_s: float = 0.05,
) -> None:
    """Call `check` until it is true; past `timeout_s`, fail saying `what` never happened
    (`what` may be a function, for the last state seen)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"not within {timeout_s:g} s: {said}")
        time.sleep(interval_s)
