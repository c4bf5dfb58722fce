"""Healthchecks: the spec's mapping → Docker's test argv and timings."""

from __future__ import annotations

from typing import Any

from aifo.model import Healthcheck
from aifo.values.units import seconds


def healthcheck(cfg: dict[str, Any]) -> Healthcheck:
    """`test` as Docker's argv: a string runs in a shell (CMD-SHELL), a bare list gets CMD."""
    test = cfg["test"]
    if isinstance(test, str):
        argv: tuple[str, ...] = ("CMD-SHELL", test)
    elif test and test[0] in ("CMD", "CMD-SHELL", "NONE"):
        argv = tuple(str(t) for t in test)
    else:
        argv = ("CMD", *(str(t) for t in test))
    return Healthcheck(
        test=argv,
        interval_s=seconds(cfg.get("interval", 5)),
        timeout_s=seconds(cfg.get("timeout", 3)),
        retries=int(cfg.get("retries", 3)),
        start_period_s=seconds(cfg.get("start_period", 0)),
    )
