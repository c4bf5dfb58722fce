"""aifo.state.layercache: apply layers kept as plain data, bounded, untrusted on read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aifo.compile import compile_session
from aifo.errors import SpecError
from aifo.model import Session, graph
from aifo.pipeline import layers
from aifo.sessionspec import resolve
from aifo.state import layercache
from tests.compile.helpers import context, resolved
from tests.graph.test_graph import CYCLE, DEPENDS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIFO_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state" / "cache" / "layers"


def _session() -> Session:
    r = resolve(ROOT / "examples/multi-agent-isolated/aifo.yaml", environ={"HOME": "/x"})
    return compile_session(r, context=context())


def test_layers_are_kept_by_structure_and_graph_writes_nothing(folder: Path) -> None:
    s = _session()
    assert graph.layers(s) and not folder.exists()  # model.graph is pure
    first = layers(s)
    assert [p.name for p in folder.iterdir()] == [f"layers-{graph.layers_key(s)}.json"]
    assert layers(s) == first == graph.layers(s)


def test_a_kept_answer_is_read_not_computed(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = _session()
    first = layers(s)

    def no_build(*_args: object, **_kw: object) -> None:
        raise AssertionError("built the graph again: the cache was not read")

    monkeypatch.setattr(graph, "build", no_build)
    assert layers(s) == first  # from the file


def test_the_key_holds_the_edges(tmp_path: Path, folder: Path) -> None:
    # Same resources, the dependency the other way round: the second answer is not the first's.
    (tmp_path / "one").mkdir()
    (tmp_path / "other").mkdir()
    s1 = compile_session(
        resolved(tmp_path / "one", DEPENDS.format(a="[db]", db="[]")), context=context()
    )
    s2 = compile_session(
        resolved(tmp_path / "other", DEPENDS.format(a="[]", db="[a]")), context=context()
    )
    assert sorted(s1.resources) == sorted(s2.resources)
    first, second = layers(s1), layers(s2)
    assert first != second and second == graph.layers(s2)
    assert len(list(folder.glob("layers-*.json"))) == 2


def test_a_cyclic_graph_is_never_kept(tmp_path: Path, folder: Path) -> None:
    s = compile_session(resolved(tmp_path, CYCLE), context=context())
    for _ in range(2):
        with pytest.raises(SpecError):
            layers(s)
    assert not folder.exists() or list(folder.iterdir()) == []


def test_the_cache_is_bounded(folder: Path) -> None:
    for i in range(layercache.MAX_ENTRIES + 10):
        layercache.write(f"{i:032x}", [["a"]])
    assert len(list(folder.iterdir())) == layercache.MAX_ENTRIES


@pytest.mark.parametrize(
    "content", [b'{"a": 1}', b"[[1]]", b"[" * 100000, b"\xff", b'[["a"]' + b" " * (5 << 20) + b"]"]
)
def test_a_malformed_file_is_a_miss(folder: Path, content: bytes) -> None:
    layercache.write("ab" * 16, [["a"]])
    (folder / f"layers-{'ab' * 16}.json").write_bytes(content)
    assert layercache.read("ab" * 16) is None


def test_a_planted_link_or_foreign_file_is_a_miss(folder: Path, tmp_path: Path) -> None:
    layercache.write("cd" * 16, [["a"]])
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps([["x"]]))
    path = folder / f"layers-{'cd' * 16}.json"
    path.unlink()
    path.symlink_to(target)
    assert layercache.read("cd" * 16) is None
    path.unlink()
    path.write_text(json.dumps([["x"]]))
    os.chown(path, 4242, 4242)
    assert layercache.read("cd" * 16) is None
