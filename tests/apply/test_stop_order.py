"""destroy's stop order, from the `io.aifo.depends-on` labels alone (pure)."""

from __future__ import annotations

from aifo.apply.destroy import stop_order
from aifo.engine.cli_observe import _depends
from aifo.engine.parse import Listed


def test_dependents_stop_before_what_they_use() -> None:
    depends = {"agent": ("rust", "db"), "db": ("cache",), "rust": ()}
    assert stop_order(["agent", "cache", "db", "rust", "lone"], depends) == [
        ["agent", "lone"],
        ["db", "rust"],
        ["cache"],
    ]


def test_unlabelled_containers_are_one_layer_and_a_cycle_does_not_hang() -> None:
    assert stop_order(["b", "a"], {}) == [["a", "b"]]
    assert stop_order(["a", "b", "c"], {"a": ("b",), "b": ("a",), "c": ("a",)}) == [
        ["c"],
        ["a", "b"],
    ]
    assert stop_order([], {}) == []


def test_dependencies_outside_the_listing_are_ignored() -> None:
    assert stop_order(["agent"], {"agent": ("gone",)}) == [["agent"]]


def test_labels_resolve_resource_ids_to_names() -> None:
    rows = [
        Listed("1", "aifo-s-codex", "s", ("agent/codex", "service/db,toolchain/rust")),
        Listed("2", "aifo-s-rust", "s", ("toolchain/rust", "")),
        Listed("3", "aifo-s-old", "s", ()),  # created before the label existed
    ]
    assert _depends(rows) == {
        "aifo-s-codex": ("aifo-s-rust",),  # service/db is not in this session's listing
        "aifo-s-rust": (),
        "aifo-s-old": (),
    }
