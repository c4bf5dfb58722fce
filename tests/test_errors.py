"""The error tree: one home (aifo.errors), `str(e)` is the message, undo failures grouped."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import aifo
from aifo import errors
from aifo.errors import AifoError, ApplyFailed, HookFailed, UndoFailed


def _modules() -> list[str]:
    found = pkgutil.walk_packages(aifo.__path__, "aifo.")
    return [m.name for m in found if not m.name.endswith("__main__")]


def test_every_aifo_error_is_defined_in_the_errors_module() -> None:
    outside = []
    for name in _modules():
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, AifoError) and obj.__module__ != errors.__name__:
                outside.append(f"{obj.__module__}.{obj.__qualname__}")
    assert outside == []


def test_the_docstring_tree_names_every_error_class() -> None:
    classes = [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, AifoError) and obj.__module__ == errors.__name__
    ]
    doc = errors.__doc__ or ""
    assert [c.__name__ for c in classes if f" {c.__name__} " not in doc] == []


def test_undo_failures_are_an_exception_group_with_the_cause() -> None:
    cause = HookFailed("service/api/init: exited with code 3")
    undo = [UndoFailed("remove container x (service/api): busy"), UndoFailed("postcondition: y")]
    failed = ApplyFailed(cause, undo)
    assert isinstance(failed.undo, ExceptionGroup)
    assert list(failed.undo.exceptions) == undo
    assert failed.undo_failures == tuple(undo)
    assert str(failed) == (
        "apply failed: service/api/init: exited with code 3\n"
        "rollback was incomplete; these undo steps failed:\n"
        "  - remove container x (service/api): busy\n"
        "  - postcondition: y"
    )


def test_a_clean_rollback_has_no_group() -> None:
    failed = ApplyFailed(HookFailed("boom"))
    assert failed.undo is None and failed.undo_failures == ()
    assert str(failed).endswith("rolled back: Docker is as it was before this apply")
