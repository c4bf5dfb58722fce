"""The pure parts of placement (the rule) and verification (reading /proc/1/status)."""

from __future__ import annotations

import pytest

from aifo.engine.swarm.nodes import Node
from aifo.engine.swarm.placement import RETRY_AFTER_S, pick, pinned_to
from aifo.engine.swarm.verify import allowed_caps, judge, parse_status, problems
from aifo.errors import NoNodeQualifies
from aifo.model import Container
from aifo.state.nodefacts import NodeFact

A = Node("aaa", "n1", manager=True, ready=True, active=True)
B = Node("bbb", "n2", manager=False, ready=True, active=True)
C = Node("ccc", "n3", manager=False, ready=True, active=True)
ALL_REACHABLE = {"aaa": True, "bbb": True, "ccc": True}
NOW = 10_000.0


def _pick(nodes: list[Node], **kw: object) -> Node:
    args: dict[str, object] = {
        "load": {}, "facts": {}, "reachable": ALL_REACHABLE, "needs_nnp": True, "now": NOW,
    }  # fmt: skip
    args.update(kw)
    return pick(nodes, **args)  # type: ignore[arg-type]


def test_fewest_tasks_first_then_known_good_then_id() -> None:
    assert _pick([C, B, A]) == A  # nothing known: the lowest id
    assert _pick([A, B, C], load={"aaa": 2, "bbb": 1}) == C
    good = {"ccc": NodeFact("ccc", "n3", True, 1)}
    assert _pick([A, B, C], load={"ccc": 5}, facts=good) == A  # load beats being known good
    assert _pick([A, B, C], load={"aaa": 1}, facts=good) == C  # known good breaks the tie


def test_nodes_that_cannot_run_it_are_skipped() -> None:
    down = Node("aaa", "n1", manager=True, ready=False, active=True)
    drained = Node("bbb", "n2", manager=False, ready=True, active=False)
    assert _pick([down, drained, C]) == C
    assert _pick([A, C], reachable={"ccc": True}) == C


def test_a_node_without_nnp_is_avoided_for_a_while() -> None:
    bad = {"aaa": NodeFact("aaa", "n1", False, int(NOW) - 5)}
    assert _pick([A, B], facts=bad) == B
    assert _pick([A, B], facts=bad, needs_nnp=False) == A  # every container opted out
    old = {"aaa": NodeFact("aaa", "n1", False, int(NOW) - RETRY_AFTER_S - 1)}
    assert _pick([A, B], facts=old) == A  # tried again (verification still guards it)


def test_fail_closed_naming_every_node() -> None:
    facts = {
        "aaa": NodeFact("aaa", "n1", False, int(NOW) - 30),
        "bbb": NodeFact("bbb", "n2", False, int(NOW) - 600 + 60),
    }
    drained = Node("ccc", "n3", manager=False, ready=True, active=False)
    with pytest.raises(NoNodeQualifies) as caught:
        _pick([A, B, drained], facts=facts)
    err = caught.value
    assert err.items == (
        "n1 (aaa): its tasks had no no-new-privileges (30 s ago; tried again 10 min after that)",
        "n2 (bbb): its tasks had no no-new-privileges (9 min ago; tried again 10 min after that)",
        "n3 (ccc): not active (drained or paused)",
    )
    assert err.hint and '"no-new-privileges": true' in err.hint and "daemon.json" in err.hint
    assert "no_new_privileges: false" in err.hint
    with pytest.raises(NoNodeQualifies, match="no node"):
        _pick([])


def test_pinned_to() -> None:
    assert pinned_to(["node.role==worker", "node.id == abc"]) == "abc"
    assert pinned_to(["node.hostname==n1"]) is None and pinned_to(["node.id=="]) is None


def _c(**kw: object) -> Container:
    return Container(name="agent", role="agent", docker_name="aifo-s-agent", image="x", **kw)  # type: ignore[arg-type]


DEFAULT = 0xA80425FB  # Docker's 14 default capabilities, as /proc shows them


def test_allowed_caps() -> None:
    assert allowed_caps(_c()) == DEFAULT
    assert allowed_caps(_c(cap_drop=("ALL",))) == 0
    assert allowed_caps(_c(cap_drop=("ALL",), cap_add=("NET_BIND_SERVICE",))) == 1 << 10
    assert allowed_caps(_c(cap_drop=("cap_chown",))) == DEFAULT & ~1
    assert allowed_caps(_c(cap_add=("ALL",))) == (1 << 64) - 1


STATUS = "Name:\tsleep\nCapEff:\t{eff}\nCapBnd:\t{bnd}\nNoNewPrivs:\t{nnp}\nSeccomp:\t{sec}\n"


def _fields(eff: str = "0", bnd: str = "0", nnp: str = "1", sec: str = "2") -> dict[str, str]:
    return parse_status(STATUS.format(eff=eff, bnd=bnd, nnp=nnp, sec=sec))


def test_secure_task_passes() -> None:
    dropped = _c(cap_drop=("ALL",))
    assert problems(_fields(), dropped) == []
    assert problems(_fields(eff="00000000a80425fb", bnd="00000000a80425fb"), _c()) == []


def test_each_gap_is_named() -> None:
    dropped = _c(cap_drop=("ALL",))
    (nnp,) = problems(_fields(nnp="0"), dropped)
    assert "NoNewPrivs 0" in nnp and '"no-new-privileges": true' in nnp
    assert problems(_fields(nnp="0"), _c(cap_drop=("ALL",), no_new_privileges=False)) == []
    (caps,) = problems(_fields(bnd="0000000000200000"), dropped)
    assert "SYS_ADMIN" in caps and "CapBnd 0x200000" in caps
    (sec,) = problems(_fields(sec="0"), dropped)
    assert "Seccomp 0" in sec
    assert (
        problems(_fields(sec="0"), _c(cap_drop=("ALL",), security_opt=("seccomp=unconfined",)))
        == []
    )


def test_what_cannot_be_read_fails_closed() -> None:
    assert "has no NoNewPrivs" in problems(parse_status("CapEff:\t0\n"), _c())[0]
    assert "not the kernel's" in problems(_fields(nnp="x"), _c())[0]


def test_judge_names_node_container_and_opt_out() -> None:
    text = judge("n2", _fields(nnp="0"), _c(cap_drop=("ALL",)))
    assert text is not None
    assert text.startswith("container agent on swarm node n2 fails its secure defaults")
    assert "no_new_privileges: false" in text
    assert judge("n2", _fields(), _c(cap_drop=("ALL",))) is None
    no_cat = judge("n2", "its image has neither `cat` nor `sh`", _c())
    assert no_cat is not None and "neither `cat`" in no_cat


def test_equal_nodes_spread_sessions_stably() -> None:
    """Sessions applied at once by separate processes see the same load: a tie is broken by a
    hash of the session and the node (stable for a session), not by the lowest id for all."""
    chosen = {s: _pick([A, B], session=s) for s in (f"s{i}" for i in range(16))}
    assert {n.id for n in chosen.values()} == {"aaa", "bbb"}
    assert all(_pick([B, A], session=s) == n for s, n in chosen.items())
    assert _pick([A, B], session="s0", load={chosen["s0"].id: 1}) != chosen["s0"]  # load first
