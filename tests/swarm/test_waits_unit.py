"""The pure logic of Swarm's waits: the engine's task rounds (one `GET /tasks` per round for every
wait at once) and `until_running`'s fail-fast, against a manager that answers from a script."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import pytest

from aifo.engine.swarm.tasks import TaskRounds
from aifo.engine.swarm.waits import until_running
from aifo.engine.wire import Reply, Wire
from aifo.errors import EngineError, TaskFailed, VerificationFailed


def _task(sid: str, tid: str, state: str, err: str = "") -> dict[str, Any]:
    return {
        "ID": tid, "ServiceID": sid, "NodeID": "n1", "DesiredState": "running",
        "Status": {"State": state, "Err": err, "ContainerStatus": {"ContainerID": f"c-{tid}"}},
    }  # fmt: skip


class Manager:
    """GET /tasks answered from `tasks` (service id -> its tasks), every ask recorded."""

    def __init__(self, tasks: dict[str, list[dict[str, Any]]]) -> None:
        self.tasks = tasks
        self.asked: list[list[str]] = []

    def request(self, method: str, path: str, **kw: Any) -> Reply:
        assert (method, path) == ("GET", "/tasks")
        ids = json.loads(parse_qs(f"filters={kw['query']['filters']}")["filters"][0])["service"]
        self.asked.append(ids)
        found = [t for sid in ids for t in self.tasks.get(sid, [])]
        return Reply(200, json.dumps(found).encode())


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _rounds(manager: Manager, clock: Clock) -> TaskRounds:
    return TaskRounds(manager, clock=clock)  # type: ignore[arg-type]


def test_one_request_per_round_for_every_wait() -> None:
    manager, clock = Manager({"a": [_task("a", "t1", "starting")]}), Clock()
    rounds = _rounds(manager, clock)
    with rounds.watching(["a"]), rounds.watching(["b"]):
        assert [t.state for t in rounds.tasks_of(["a"])["a"]] == ["starting"]
        assert rounds.tasks_of(["b"]) == {"b": []}  # the same round answers the other wait
        assert manager.asked == [["a", "b"]]
        clock.now += 0.03  # older than a round: a new one, for both again
        rounds.tasks_of(["b"])
        assert manager.asked == [["a", "b"], ["b", "a"]]
    rounds.tasks_of(["c"])  # nobody watches a or b any more
    assert manager.asked[-1] == ["c"]


def test_a_round_that_did_not_cover_a_service_is_not_reused() -> None:
    manager, clock = Manager({}), Clock()
    rounds = _rounds(manager, clock)
    rounds.tasks_of(["a"])
    rounds.tasks_of(["b"])  # fresh, but b was not asked for: never reported as taskless
    assert manager.asked == [["a"], ["b"]]


def test_until_running_fails_fast_on_a_rejected_task_through_the_rounds() -> None:
    manager = Manager({
        "a": [_task("a", "t1", "running")],
        "b": [_task("b", "t2", "rejected", "No such image: x:1")],
    })  # fmt: skip
    slept: list[float] = []
    with pytest.raises(TaskFailed, match="No such image"):
        until_running(Wire("/nonexistent"), {"a": "A", "b": "B"}, {}, sleep=slept.append,
                      rounds=_rounds(manager, Clock()))  # fmt: skip
    assert slept == [] and len(manager.asked) == 1


def test_until_running_polls_often_only_once_a_task_is_starting() -> None:
    """Before `starting` (the node still checks the image and makes the container) no task can
    be running by the next poll: polls are spaced; from `starting` on they are frequent."""
    from aifo.engine.swarm.waits import EARLY_POLL_S, START_POLL_S

    states = iter(["pending", "assigned", "preparing", "starting", "starting", "running"])
    manager = Manager({"a": [_task("a", "t1", "new")]})
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        manager.tasks["a"] = [_task("a", "t1", next(states))]

    clock = Clock()
    rounds = _rounds(manager, clock)

    def later(seconds: float) -> None:
        clock.now += seconds  # each poll a round of its own
        sleep(seconds)

    found = until_running(Wire("/nonexistent"), {"a": "A"}, {}, sleep=later, rounds=rounds)
    assert found["a"].state == "running"
    early, often = [EARLY_POLL_S] * 4, [START_POLL_S] * 2
    assert slept == early + often and EARLY_POLL_S > 2 * START_POLL_S


def test_a_removal_waits_until_no_node_is_still_making_a_tasks_container() -> None:
    """A task a node is still starting may get its container (and its volumes, made anew and
    unlabelled) after the service is deleted: removal waits until it runs or ends first."""
    from aifo.engine.swarm.waits import until_settled

    manager = Manager({"a": [_task("a", "t1", "preparing")], "b": [_task("b", "t2", "pending")]})
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 2:  # the node got there
            manager.tasks["a"] = [_task("a", "t1", "running")]

    until_settled(manager, ["a", "b"], sleep=sleep)  # type: ignore[arg-type]
    assert len(manager.asked) == 3 and len(slept) == 2  # `pending` is on no node: settled

    manager.tasks["a"] = [_task("a", "t1", "starting")]
    with pytest.raises(EngineError, match="still starting"):
        until_settled(manager, ["a"], timeout_s=0.0, sleep=lambda s: None)  # type: ignore[arg-type]
    manager.tasks["a"] = [_task("a", "t1", "rejected", "No such image")]
    manager.asked.clear()
    until_settled(manager, ["a"], sleep=slept.append)  # type: ignore[arg-type]
    assert manager.asked == [["a"]]  # one request when none is starting


def _ended(state: str, message: str, err: str, code: int | None) -> dict[str, Any]:
    """A task's end as Swarm reports it (shapes read from a real swarm, docs/swarm.md)."""
    container = {"ContainerID": "c1"} | ({} if code is None else {"ExitCode": code})
    return {
        "ID": "t1", "ServiceID": "a", "NodeID": "n1", "DesiredState": "shutdown",
        "Status": {"State": state, "Message": message, "Err": err,
                   "ContainerStatus": container},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("task", "error", "words"),
    [
        (_ended("complete", "finished", "", 0), VerificationFailed, "is exited (exit code 0)"),
        (_ended("failed", "started", "task: non-zero exit (3)", 3), VerificationFailed,
         "is exited (exit code 3)"),
        # its container never ran: no such program without an init, a mount the node refused
        (_ended("failed", "starting", "starting container failed: exec: no such file", 127),
         TaskFailed, "could not start on Swarm: starting container failed"),
        (_ended("rejected", "preparing", "No such image: x:1", None), TaskFailed,
         "could not start on Swarm: No such image"),
    ],
)  # fmt: skip
def test_a_task_that_ran_and_ended_is_a_container_exited_with_its_code(
    task: dict[str, Any], error: type[Exception], words: str
) -> None:
    manager = Manager({"a": [task]})
    with pytest.raises(EngineError) as caught:
        until_running(Wire("/nonexistent"), {"a": "A"}, {}, sleep=lambda s: None,
                      rounds=_rounds(manager, Clock()))  # fmt: skip
    assert type(caught.value) is error and words in str(caught.value), caught.value


class _Node:
    """A node engine whose `GET /networks/ID` answers `reply`."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.wire = self

    path = "/run/n1.sock"

    def request(self, method: str, path: str, **kw: Any) -> Reply:
        assert (method, path) == ("GET", "/networks/net1")
        return self.reply


def test_a_network_a_node_cannot_say_is_free_is_not_free() -> None:
    """A node that fails the read (not a 404: it has no copy) must not let the removal go on
    as if no container were attached (fail closed)."""
    from aifo.engine.swarm.waits import network_in_use

    free = Reply(200, json.dumps({"Containers": {"lb-net1": {}}}).encode())
    used = Reply(200, json.dumps({"Containers": {"c1": {}}}).encode())
    assert network_in_use([_Node(free)], "net1") is False  # type: ignore[list-item]
    assert network_in_use([_Node(Reply(404, b"{}"))], "net1") is False  # type: ignore[list-item]
    assert network_in_use([_Node(used)], "net1") is True  # type: ignore[list-item]
    refused = Reply(500, b'{"message": "node down"}')
    with pytest.raises(EngineError, match="node down"):
        network_in_use([_Node(refused)], "net1")  # type: ignore[list-item]
