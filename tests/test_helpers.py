"""The small shared helpers: masking, did-you-mean, the GC pause."""

from __future__ import annotations

import gc

import pytest

from aifo.gcpause import gc_paused
from aifo.masking import MASK, mask_values
from aifo.suggest import did_you_mean


def test_mask_values_longest_first_and_every_occurrence() -> None:
    text = "token abcdef and abc, abcdef again"
    assert (
        mask_values(text, ["abc", "abcdef", None, ""]) == f"token {MASK} and {MASK}, {MASK} again"
    )


def test_mask_values_min_len_keeps_tiny_values() -> None:
    assert mask_values("port 1 of 10", ["1"], min_len=3) == "port 1 of 10"
    assert mask_values("port 1 of 10", ["1"]) == f"port {MASK} of {MASK}0"


def test_did_you_mean_or_otherwise() -> None:
    assert did_you_mean("comand", ["command", "image"]) == "did you mean 'command'?"
    assert did_you_mean("zzz", ["command"], "allowed: command") == "allowed: command"
    assert did_you_mean("zzz", []) is None


def test_gc_paused_restores_the_previous_state() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError
    assert gc.isenabled()
