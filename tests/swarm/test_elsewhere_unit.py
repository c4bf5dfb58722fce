"""When `aifo apply` places a failed session again (aifo.apply.elsewhere), pure: only a fresh
session, rolled back whole, failed by its node alone, on a node not tried yet and now avoided.
The real swarms' side: tests/swarm/test_swarm_elsewhere.py."""

from __future__ import annotations

from collections.abc import Mapping

from aifo.apply.elsewhere import node_to_leave, saying
from aifo.engine.swarm.placement import RETRY_AFTER_S
from aifo.engine.swarm.verify import nnp_only, parse_status
from aifo.errors import ApplyFailed, NodeWithoutNnp, UndoFailed, VerificationFailed
from aifo.model import Container
from aifo.model.observed import ObservedNetwork, Snapshot
from aifo.state.nodefacts import NodeFact

NOW = 50_000.0
BAD = NodeWithoutNnp("container db on swarm node n2 ...: NoNewPrivs 0", node_id="bbb", node="n2")
FRESH = Snapshot("s")
STATUS = "CapEff:\t0\nCapBnd:\t0\nNoNewPrivs:\t{nnp}\nSeccomp:\t{sec}\n"


def _facts(nnp: bool = False, at: float = NOW - 5) -> Mapping[str, NodeFact]:
    return {"bbb": NodeFact("bbb", "n2", nnp, int(at))}


def _leave(
    failed: ApplyFailed,
    before: Snapshot = FRESH,
    tried: set[str] | None = None,
    facts: Mapping[str, NodeFact] | None = None,
) -> NodeWithoutNnp | None:
    known = _facts() if facts is None else facts
    return node_to_leave(failed, before, tried or set(), facts=lambda: known, now=NOW)


def test_a_fresh_session_failed_by_its_node_alone_is_placed_again() -> None:
    assert _leave(ApplyFailed(BAD)) is BAD
    assert saying(BAD, "s") == (
        'node n2 does not give no-new-privileges (its daemon.json lacks "no-new-privileges": '
        "true): rolled back, placing session s on another node"
    )


def test_every_other_failure_stays_as_it_is() -> None:
    other = VerificationFailed("container db on swarm node n2: capabilities beyond ...")
    assert _leave(ApplyFailed(other)) is None  # not the node alone
    assert _leave(ApplyFailed(BAD, [UndoFailed("network x: still there")])) is None
    existed = Snapshot("s", networks={"aifo-s-back": ObservedNetwork("id", "aifo-s-back")})
    assert _leave(ApplyFailed(BAD), before=existed) is None  # never moved from its objects
    assert _leave(ApplyFailed(BAD), tried={"bbb"}) is None  # one attempt per node
    assert _leave(ApplyFailed(BAD), facts={}) is None  # not recorded: placement could pick it
    assert _leave(ApplyFailed(BAD), facts=_facts(nnp=True)) is None
    old = _facts(at=NOW - RETRY_AFTER_S - 1)  # placement tries it again after a while
    assert _leave(ApplyFailed(BAD), facts=old) is None


def _container(**kw: object) -> Container:
    return Container(name="db", role="agent", docker_name="x", image="i", cap_drop=("ALL",), **kw)  # type: ignore[arg-type]


def test_nnp_only_is_the_node_alone() -> None:
    fields = parse_status(STATUS.format(nnp=0, sec=2))
    assert nnp_only(fields, _container())
    assert not nnp_only(parse_status(STATUS.format(nnp=1, sec=2)), _container())
    assert not nnp_only(fields, _container(no_new_privileges=False))  # opted out: no problem
    assert not nnp_only(parse_status(STATUS.format(nnp=0, sec=0)), _container())  # seccomp too
    wide = parse_status(STATUS.format(nnp=0, sec=2).replace("CapEff:\t0", "CapEff:\t1"))
    assert not nnp_only(wide, _container())  # a capability beyond the spec too
