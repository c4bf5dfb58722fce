"""The pipeline's own helpers (pure): the import warmed while the engine creates the lock."""

from __future__ import annotations

import sys
import threading
from importlib import import_module

import pytest

from aifo import pipeline


def test_warm_imports_the_module_on_a_thread() -> None:
    sys.modules.pop("colorsys", None)
    pipeline._warm("colorsys").join(timeout=30)
    assert "colorsys" in sys.modules


def test_a_warm_import_that_fails_leaves_no_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The thread says nothing (no traceback on stderr from threading's excepthook); the
    command's own import of the module is what reports it."""
    raised: list[object] = []
    monkeypatch.setattr(threading, "excepthook", raised.append)
    thread = pipeline._warm("aifo.no_such_module_for_this_test")
    thread.join(timeout=30)
    assert not thread.is_alive() and raised == []
    with pytest.raises(ModuleNotFoundError):
        import_module("aifo.no_such_module_for_this_test")
