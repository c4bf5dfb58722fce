"""All-or-nothing at the nodes' own engines (issue 25): the same fault injection as the manager's
sweep (test_swarm_apply), at every request aifo sends to a node's engine: the session's
volumes, the workspace volume's helper and archive copy, each task's verification exec, the
kills and removals of its task containers, the reads in between.

One session's swarm, one spec (a named volume, and the workspace cloned into a volume on the
node: the nodes are not this machine), the requests counted once through a proxy in front of
each node's socket (tests/swarm/node_faults.py), then each failed in turn:

- an apply with any one node request failing fails with a clear error (exit 1 from the CLI),
  and nothing with the session's labels is left on the manager or on any node;
- a clean apply works after the sweep;
- a destroy with each kind of its node reads failing, and a rollback (after a failed
  verification) with each kind of its node removals failing, touch nothing foreign (a volume
  and a container on every node), say why, and a re-run (`aifo destroy`) finishes the job.

The sweep's size and time are printed (`-s`): 18 + 7 + 5 faults, ~55 s.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aifo import pipeline
from aifo.apply.journal import JOURNAL
from aifo.engine.choose import connect
from aifo.engine.volumecopy import HELPER_IMAGE
from aifo.errors import AifoError, ApplyFailed
from tests.fork.helpers import git, make_repo
from tests.swarm.conftest import EMPTY, nodes_of, swarm_state
from tests.swarm.node_faults import Fault, NodeFaults, node_faults, upstream_of
from tests.swarm.nodes_helpers import Swarm

pytestmark = [pytest.mark.docker, pytest.mark.swarm, pytest.mark.slow, pytest.mark.timeout(900)]

SPEC = """\
version: 1
session: {session}
networks:
  sandbox: {{internal: true}}
volumes:
  data: {{}}
agents:
  coder:
    image: aifo-test/busybox:latest
    pull: never
    command: [sleep, "2147483647"]
    networks: [sandbox]
    mounts: [{{volume: data, target: /data}}]
"""
FOREIGN = "io.aifo.test-foreign"


@pytest.fixture
def proxy(on_swarm: Swarm, monkeypatch: pytest.MonkeyPatch) -> Iterator[NodeFaults]:
    """aifo reaches the nodes through the fault proxies (a short folder: a socket path has
    at most 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="aifo-nf-", dir="/tmp"))
    with node_faults(upstream_of(on_swarm.environ["AIFO_SWARM_NODES"]), folder) as faults:
        monkeypatch.setenv("AIFO_SWARM_NODES", faults.environ)
        yield faults
    folder.rmdir()


def _repo(tmp_path: Path, session: str) -> Path:
    repo = make_repo(tmp_path / "work", session)
    (repo / "aifo.yaml").write_text(SPEC.format(session=session))
    (repo / "a.txt").write_text("hello\ndirty\n")  # carried as a snapshot commit
    git(repo, "commit", "-qam", "spec")
    return repo


def _apply(repo: Path) -> None:
    engine = connect()
    pipeline.apply_compiled(engine, pipeline.load(repo / "aifo.yaml", engine=engine))


def _aifo(repo: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aifo", "-f", str(repo / "aifo.yaml"), *argv],
        capture_output=True, text=True, timeout=300, cwd=repo, stdin=subprocess.DEVNULL,
        check=False,
    )  # fmt: skip


def _destroy(session: str) -> None:
    """`aifo destroy --volumes`: lock, finish an unfinished apply (roll it back), remove."""
    engine = connect()
    with pipeline.prepare_destroy(engine, session, notify=lambda _m: None) as found:
        pipeline.execute_destroy(engine, session, found, volumes=True)


def _reads_of(seen: list[Fault]) -> list[Fault]:
    """The first of each kind of read (a wait's later polls of the same listing fail the same
    way)."""
    return [f for f in seen if f[0][1] == "GET" and f[1] == 1]


def _forget_helper(swarm: Swarm) -> None:
    """The copy helper's image off every node, so each run takes the same path (aifo imports
    it on a node that lacks it: requests a sweep must fail too)."""
    for wire in nodes_of(swarm).values():
        wire.request("DELETE", f"/images/{HELPER_IMAGE.replace(':', '%3A')}")


def _no_journal(state_dir: Path, session: str) -> bool:
    return not (state_dir / "sessions" / session / JOURNAL).exists()


def test_every_failed_request_to_a_node_rolls_back(
    on_swarm: Swarm, swarm_session: str, proxy: NodeFaults, tmp_path: Path, state_dir: Path
) -> None:
    session = swarm_session
    repo = _repo(tmp_path, session)
    foreign = _foreign(on_swarm, session)
    try:
        _sweeps(on_swarm, session, repo, proxy, state_dir, foreign)
    finally:
        _drop_foreign(on_swarm, foreign)


def _sweeps(
    swarm: Swarm, session: str, repo: Path, proxy: NodeFaults, state_dir: Path,
    foreign: Foreign,
) -> None:  # fmt: skip
    _forget_helper(swarm)
    _apply(repo)
    applied = list(proxy.seen)
    kinds = {f[0][1:] for f in applied}
    # the copy path ran on the session's node: the volumes, the helper, the archive, the exec
    assert {("POST", "/volumes/create"), ("PUT", "/containers/<id>/archive"),
            ("POST", "/exec/<id>/start")} <= kinds, applied  # fmt: skip
    proxy.reset()
    _destroy(session)
    destroyed = list(proxy.seen)
    assert swarm_state(swarm, session) == EMPTY

    started = time.monotonic()
    rollback: list[
        tuple[Fault, Fault]
    ] = []  # the node requests of a rollback after a failed verification
    for fault in applied:  # every one: an apply polls no node
        _forget_helper(swarm)
        proxy.reset(fault)
        if fault[0][1] == "PUT":  # this one through the CLI: exit 1, as on one host
            done = _aifo(repo, "apply", "--yes")
            assert done.returncode == 1 and "Traceback" not in done.stderr, done
            assert "rolled back" in done.stderr, done.stderr
            message = done.stderr
        else:
            with pytest.raises(AifoError) as caught:
                _apply(repo)
            message = str(caught.value)
            if isinstance(caught.value, ApplyFailed):
                failures = caught.value.undo_failures
                assert failures == (), (fault, caught.value.cause, failures)
        assert proxy.injected == [fault], (fault, "the fault was never reached")
        assert "injected node fault" in message, (fault, message)
        assert '{"message"' not in message, (fault, "the daemon's reason, not its JSON", message)
        state = swarm_state(swarm, session)
        assert state == EMPTY, (fault, "not rolled back", state)
        assert _no_journal(state_dir, session), fault
        assert _foreign_intact(swarm, foreign), (fault, "a foreign object was touched")
        if fault[0][1:] == ("POST", "/containers/<id>/exec"):
            rollback = [(fault, f) for f in proxy.seen[proxy.seen.index(fault) + 1 :]]
    print(f"apply sweep: {len(applied)} faults, {time.monotonic() - started:.1f} s")

    # a clean apply still works, the workspace in its volume on the node
    proxy.reset()
    _apply(repo)
    state = swarm_state(swarm, session)
    assert len(state["services"]) == 1 and set(state["services"].values()) == {1}, state
    assert len(state["volumes"]) == 2, state
    tmpfs = {name for name, _ in state["tmpfs"]}
    code, out = connect().exec_capture(f"aifo-{session}-coder", ["cat", "/workspace/a.txt"])
    assert code == 0 and out == "hello\ndirty\n", (code, out)

    # a destroy that fails at a node's request touches nothing foreign; a re-run finishes
    started = time.monotonic()
    reads = _reads_of(destroyed)  # its removals are the rollback's: swept below
    _destroy_sweep(swarm, session, repo, proxy, reads, foreign)
    print(f"destroy sweep: {len(reads)} faults, {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    assert rollback, "no rollback after a failed verification was seen"
    undone = _rollback_sweep(swarm, session, repo, proxy, foreign, rollback, tmpfs)
    print(f"rollback sweep: {undone} faults, {time.monotonic() - started:.1f} s")


Foreign = dict[str, tuple[str, str]]  # node -> (its foreign volume, its foreign container)


def _foreign(swarm: Swarm, session: str) -> Foreign:
    """On every node, a volume and a container that are not the session's, one of them with
    a name like the session's (a destroy goes by labels, never by names)."""
    out: Foreign = {}
    for node, wire in nodes_of(swarm).items():
        volume = f"aifo-{session}-foreign-{node}"
        wire.call("POST", "/volumes/create", op="create", obj=volume,
                  body={"Name": volume, "Labels": {FOREIGN: session}})  # fmt: skip
        created = wire.call(
            "POST", "/containers/create", op="create", obj="foreign",
            body={"Image": "aifo-test/busybox:latest", "Cmd": ["true"],
                  "Labels": {FOREIGN: session},
                  "HostConfig": {"Mounts": [{"Type": "volume", "Source": volume,
                                             "Target": "/v"}]}},
        )  # fmt: skip
        out[node] = (volume, str(created["Id"]))
    return out


def _foreign_intact(swarm: Swarm, foreign: Foreign) -> bool:
    wires = nodes_of(swarm)
    return all(
        wires[node].request("GET", f"/volumes/{volume}").ok
        and wires[node].request("GET", f"/containers/{container}/json").ok
        for node, (volume, container) in foreign.items()
    )


def _drop_foreign(swarm: Swarm, foreign: Foreign) -> None:
    wires = nodes_of(swarm)
    for node, (volume, container) in foreign.items():
        wires[node].request("DELETE", f"/containers/{container}", query={"force": 1})
        wires[node].request("DELETE", f"/volumes/{volume}")


def _destroy_sweep(
    swarm: Swarm, session: str, repo: Path, proxy: NodeFaults, faults: list[Fault],
    foreign: Foreign,
) -> None:  # fmt: skip
    """Each fault in a destroy of the applied session; a destroy that failed before it removed
    anything leaves the session applied for the next fault (its re-run is the next one's).
    The session is applied when it starts."""
    applied, whole = True, swarm_state(swarm, session)
    for fault in faults:
        if not applied:
            proxy.reset()
            _apply(repo)
            whole = swarm_state(swarm, session)
        proxy.reset(fault)
        try:
            _destroy(session)
        except AifoError as error:
            assert "injected node fault" in str(error), (fault, str(error))
        assert proxy.injected == [fault], (fault, "the fault was never reached")
        assert _foreign_intact(swarm, foreign), (fault, "a foreign object was touched")
        applied = swarm_state(swarm, session) == whole
        if not applied:
            proxy.reset()
            _destroy(session)
            assert swarm_state(swarm, session) == EMPTY, (fault, "a re-run did not finish")
    if applied:
        proxy.reset()
        _destroy(session)
        assert swarm_state(swarm, session) == EMPTY


def _rollback_sweep(
    swarm: Swarm, session: str, repo: Path, proxy: NodeFaults, foreign: Foreign,
    seen: list[tuple[Fault, Fault]], tmpfs: set[str],
) -> int:  # fmt: skip
    """An apply whose verification exec fails is rolled back; each kind of that rollback's
    requests to a node (`seen`: with the verification's fault) failing in turn: what a
    rollback could not undo (it says which), a re-run (destroy) finishes; nothing foreign
    touched."""
    pairs = {fault: first for first, fault in seen}
    # its removals; not its reads, nor the exec of observe's /proc read (claims nothing when
    # it fails): the apply sweep fails those where they decide something (the verification)
    removals = [f for _, f in seen if f[0][1] != "GET" and "exec" not in f[0][2]]
    faults = kinds(removals, tmpfs)
    for fault in faults:
        # a tmpfs volume's removal is tried again: fail every try (nothing but a destroy then
        # finds the volume, its service gone)
        again = [(fault[0], n) for n in (2, 3) if fault[0][2].removeprefix("/volumes/") in tmpfs]
        _forget_helper(swarm)
        proxy.reset(pairs[fault], fault, *again)
        with pytest.raises(ApplyFailed) as caught:
            _apply(repo)
        assert set(proxy.injected) == {pairs[fault], fault, *again}, (fault, proxy.injected)
        text = str(caught.value)
        assert "injected node fault" in text, (fault, text)
        assert _foreign_intact(swarm, foreign), (fault, "a foreign object was touched")
        if caught.value.undo_failures:  # else rolled back whole: nothing for a re-run
            proxy.reset()
            _destroy(session)
        assert swarm_state(swarm, session) == EMPTY, (fault, "a re-run did not finish")
    return len(faults)


def kinds(faults: list[Fault], tmpfs: set[str]) -> list[Fault]:
    """One fault per kind of request: per node and method, the volumes' names aside (the
    removal of each spec volume is the same code; so is each of a task's `tmpfs` volumes')."""
    out: dict[tuple[str, str, str], Fault] = {}
    for fault in faults:
        node, method, path = fault[0]
        name = path.removeprefix("/volumes/")
        kind = path if name == path else "/volumes/" + ("<tmpfs>" if name in tmpfs else "<name>")
        out.setdefault((node, method, kind), fault)
    return list(out.values())
