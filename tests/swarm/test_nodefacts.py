"""The Swarm node facts record: round trip, bounded, and refused when it is not aifo's."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aifo.errors import StateError
from aifo.state.nodefacts import MAX_NODES, NodeFact, read_facts, record_fact, record_path


def test_round_trip_private(state_dir: Path) -> None:
    assert read_facts() == {}
    record_fact("abc1", "n1", nnp=True, now=100)
    record_fact("abc2", "n2", nnp=False, now=200)
    record_fact("abc1", "n1", nnp=False, now=300)  # the newest fact wins
    assert read_facts() == {
        "abc1": NodeFact("abc1", "n1", False, 300),
        "abc2": NodeFact("abc2", "n2", False, 200),
    }
    assert os.stat(record_path()).st_mode & 0o777 == 0o600


def test_bounded_to_the_newest_nodes(state_dir: Path) -> None:
    for i in range(MAX_NODES + 3):
        record_fact(f"n{i}", f"h{i}", nnp=True, now=i)
    facts = read_facts()
    assert len(facts) == MAX_NODES and "n0" not in facts and f"n{MAX_NODES + 2}" in facts


def test_a_control_character_hostname_is_not_kept(state_dir: Path) -> None:
    assert record_fact("abc1", "n1\x1b[2J", nnp=True).hostname == ""


def _write(doc: object) -> None:
    record_fact("abc1", "n1", nnp=True)  # makes the folder and a valid record
    Path(record_path()).write_text(doc if isinstance(doc, str) else json.dumps(doc))


GOOD = {"hostname": "n1", "nnp": True, "at": 5}


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        ("{nope", "not JSON"),
        ([], "not a {version, nodes} object"),
        ({"version": 1, "nodes": {}, "run": "rm -rf /"}, "not a {version, nodes} object"),
        ({"version": 2, "nodes": {}}, "version 2"),
        ({"version": 1, "nodes": []}, "`nodes` is not an object"),
        ({"version": 1, "nodes": {"../x": GOOD}}, "is not a node id"),
        ({"version": 1, "nodes": {"abc1": {**GOOD, "x": 1}}}, "not a {hostname, nnp, at}"),
        ({"version": 1, "nodes": {"abc1": {**GOOD, "nnp": 1}}}, "nnp is not true or false"),
        ({"version": 1, "nodes": {"abc1": {**GOOD, "nnp": "yes"}}}, "nnp is not true or false"),
        ({"version": 1, "nodes": {"abc1": {**GOOD, "at": -1}}}, "at is not a time"),
        ({"version": 1, "nodes": {"abc1": {**GOOD, "at": True}}}, "at is not a time"),
        ({"version": 1, "nodes": {"abc1": {**GOOD, "hostname": "a\nb"}}}, "control characters"),
        ({"version": 1, "nodes": {"abc1": {**GOOD, "hostname": "h" * 300}}}, "short string"),
        ({"version": 1, "nodes": {f"n{i}": GOOD for i in range(MAX_NODES + 1)}}, "at most"),
    ],
)
def test_tampered_content_is_refused(state_dir: Path, doc: object, says: str) -> None:
    _write(doc)
    with pytest.raises(StateError) as caught:
        read_facts()
    assert says in caught.value.message and "rm " in (caught.value.hint or "")
    with pytest.raises(StateError):  # and never overwritten before the user looked
        record_fact("abc9", "n9", nnp=True)
    assert Path(record_path()).read_text() == (doc if isinstance(doc, str) else json.dumps(doc))


def test_oversized_record_is_refused(state_dir: Path) -> None:
    _write(" " * (300 * 1024) + "{}")
    with pytest.raises(StateError, match="over"):
        read_facts()


def test_a_planted_link_is_refused(state_dir: Path, victim: Path) -> None:
    record_fact("abc1", "n1", nnp=True)
    os.unlink(record_path())
    os.symlink(victim, record_path())
    with pytest.raises(StateError, match="link"):
        read_facts()
    assert victim.read_text() == "precious\n"


def test_a_record_others_may_write_is_refused(state_dir: Path) -> None:
    record_fact("abc1", "n1", nnp=True)
    os.chmod(record_path(), 0o666)
    with pytest.raises(StateError):
        read_facts()


def test_threads_recording_at_once_lose_nothing(state_dir: Path) -> None:
    import threading

    record_fact("seed", "s", nnp=True)
    threads = [
        threading.Thread(target=record_fact, args=(f"t{i}", f"h{i}"), kwargs={"nnp": True})
        for i in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(read_facts()) == 17
