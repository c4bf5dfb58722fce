"""aifo.state.codecache: dataclasses' generated methods, compiled once and kept between runs."""

from __future__ import annotations

import dataclasses
import marshal
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aifo.state import codecache
from aifo.state.codecache import CodeCache


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[CodeCache]:
    """A cache given to `dataclasses` for one test (taken back after it)."""
    kept = CodeCache(str(tmp_path))
    vars(dataclasses)["exec"] = kept.exec
    try:
        yield kept
    finally:
        del vars(dataclasses)["exec"]


def test_a_cached_class_is_the_class_dataclass_makes(cache: CodeCache) -> None:
    del vars(dataclasses)["exec"]  # the first one as the standard library makes it

    @dataclasses.dataclass(frozen=True, order=True)
    class Plain:
        """x"""

        a: int
        b: str = "b"
        c: list[int] = dataclasses.field(default_factory=list, compare=False)

    vars(dataclasses)["exec"] = cache.exec

    @dataclasses.dataclass(frozen=True, order=True)
    class Kept:
        """x"""

        a: int
        b: str = "b"
        c: list[int] = dataclasses.field(default_factory=list, compare=False)

    assert cache.misses > 0 and cache.hits == 0
    for name in ("__init__", "__repr__", "__eq__", "__hash__", "__setattr__", "__lt__"):
        made, kept = getattr(Plain, name), getattr(Kept, name)
        assert made.__code__ == kept.__code__, name  # compiled alike: no future flag of ours
        assert made.__annotations__ == kept.__annotations__, name
    one = Kept(1)
    assert one == Kept(1, "b", [9]) and hash(one) == hash(Kept(1)) and one.c == []
    assert repr(one).endswith("<locals>.Kept(a=1, b='b', c=[])")
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.a = 2  # type: ignore[misc]
    assert Kept(1) < Kept(2)


def test_the_same_text_is_compiled_once(cache: CodeCache) -> None:
    for _ in range(2):

        @dataclasses.dataclass(frozen=True)
        class Twice:
            """x"""

            a: int

    compiled = cache.misses
    assert compiled and cache.hits == compiled


def _probe(state: Path) -> dict[str, int]:
    probe = (
        "from aifo.state.codecache import install\n"
        "c = install()\n"
        "import aifo.model, aifo.model.observed, aifo.plan.actions\n"
        "print(c.misses, c.hits)\n"
    )
    env = {**os.environ, "AIFO_STATE_DIR": str(state)}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    return {"misses": int(out[0]), "hits": int(out[1])}


def test_a_second_run_compiles_nothing(tmp_path: Path) -> None:
    first = _probe(tmp_path)
    assert first["misses"] >= 27  # 27 classes: one `exec` each (3.13) or one per method (3.11)
    files = list((tmp_path / "cache" / "code").iterdir())
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "cache" / "code").stat().st_mode & 0o777 == 0o700
    second = _probe(tmp_path)
    assert second == {"misses": 0, "hits": first["misses"] + first["hits"]}


def test_the_console_entry_point_keeps_the_code(tmp_path: Path) -> None:
    env = {**os.environ, "AIFO_STATE_DIR": str(tmp_path)}
    spec = tmp_path / "aifo.yaml"
    spec.write_text("version: 1\nsession: kept\nservices:\n  web: {image: busybox}\n")
    subprocess.run(
        [sys.executable, "-m", "aifo", "validate", str(spec)], env=env, check=True,
        capture_output=True,
    )  # fmt: skip
    assert len(list((tmp_path / "cache" / "code").glob("dataclasses.*.marshal"))) == 1


def _good(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(marshal.dumps({"x = 1": compile("x = 1", "<string>", "exec")}))
    path.chmod(0o600)


def test_a_damaged_foreign_or_special_file_is_a_miss(tmp_path: Path) -> None:
    path = tmp_path / "code.marshal"
    _good(path)
    assert list(codecache._read(str(path))) == ["x = 1"]
    path.chmod(0o666)  # others may write it: not ours to run
    assert codecache._read(str(path)) == {}
    path.write_bytes(b"\xff not marshal")
    path.chmod(0o600)
    assert codecache._read(str(path)) == {}
    path.write_bytes(marshal.dumps({"x = 1": "not code"}))
    assert codecache._read(str(path)) == {}
    path.write_bytes(marshal.dumps(["x = 1"]))
    assert codecache._read(str(path)) == {}
    path.write_bytes(marshal.dumps({"x" * codecache.LIMIT: compile("x = 1", "<s>", "exec")}))
    assert codecache._read(str(path)) == {}  # valid, but longer than LIMIT: not loaded
    path.unlink()
    os.mkfifo(path, 0o600)  # a FIFO nobody writes: no wait
    done: list[object] = []
    reader = threading.Thread(target=lambda: done.append(codecache._read(str(path))), daemon=True)
    reader.start()
    reader.join(5)
    assert done == [{}]
    path.unlink()
    (tmp_path / "target").write_bytes(b"")
    path.symlink_to(tmp_path / "target")  # not followed
    _good(tmp_path / "target")
    assert codecache._read(str(path)) == {}


def test_a_damaged_file_is_replaced_and_a_full_one_starts_over(tmp_path: Path) -> None:
    path = Path(codecache.path(str(tmp_path)))
    path.parent.mkdir(mode=0o700, parents=True)
    path.write_bytes(b"garbage")
    path.chmod(0o600)
    kept = CodeCache(str(tmp_path))
    kept.exec("y = 2", {})
    kept.save()
    assert list(codecache._read(str(path))) == ["y = 2"]
    unchanged = path.stat().st_mtime_ns
    CodeCache(str(tmp_path)).save()  # nothing new compiled: not written
    assert path.stat().st_mtime_ns == unchanged
    full = CodeCache(str(tmp_path))
    full.codes = {f"z = {i}": compile(f"z = {i}", "<s>", "exec") for i in range(5000)}
    full.exec("w = 3", {})
    full.save()
    assert list(codecache._read(str(path))) == ["w = 3"]  # past MAX_ENTRIES: what this run used


def test_no_state_folder_none_made(tmp_path: Path) -> None:
    # A command that writes no state (aifo doctor, validate) on a machine without any: the
    # cache is not kept rather than the state folder made for it.
    kept = CodeCache(str(tmp_path / "state"))
    kept.exec("v = 1", {})
    kept.save()
    assert not (tmp_path / "state").exists()
