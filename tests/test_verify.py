from __future__ import annotations

from aifo.model import Network
from aifo.model.observed import ObservedContainer, ObservedNetwork
from aifo.plan.verify import verify_attachments, verify_network

LABELS = {"io.aifo.session": "s", "io.aifo.resource": "network/a"}


def _net(**kw: object) -> ObservedNetwork:
    base: dict[str, object] = {
        "id": "n1",
        "name": "aifo-s-a",
        "labels": dict(LABELS),
        "driver": "bridge",
        "internal": True,
        "subnets": ("10.9.0.0/24",),
    }
    base.update(kw)
    return ObservedNetwork(**base)  # type: ignore[arg-type]


DECLARED = Network(name="a", docker_name="aifo-s-a", internal=True, subnet="10.9.0.0/24")


def test_network_ok() -> None:
    assert verify_network(DECLARED, _net(), LABELS) == []


def test_network_mismatches() -> None:
    problems = verify_network(
        DECLARED,
        _net(driver="overlay", internal=False, subnets=("10.8.0.0/24",), labels={}),
        LABELS,
    )
    text = "\n".join(problems)
    assert len(problems) == 5
    assert "driver" in text and "internal" in text and "subnet" in text
    assert "labels.io.aifo.resource: expected network/a, found unset" in text


def test_network_subnet_not_declared_is_any() -> None:
    declared = Network(name="a", docker_name="aifo-s-a", internal=True)
    assert verify_network(declared, _net(subnets=("172.20.0.0/16",)), {}) == []


def _ctr(*networks: str) -> ObservedContainer:
    return ObservedContainer(id="c", name="aifo-s-x", networks=tuple(sorted(networks)))


def test_attachments_exact() -> None:
    assert verify_attachments("x", ["a", "b"], _ctr("a", "b")) == []
    assert verify_attachments("x", ["a", "b"], _ctr("a")) == ["container x: not attached to b"]
    assert verify_attachments("x", ["a"], _ctr("a", "c")) == [
        "container x: attached to undeclared c"
    ]


def test_attachments_never_bridge() -> None:
    assert verify_attachments("x", ["a"], _ctr("a", "bridge")) == [
        "container x: attached to the default bridge network"
    ]
    assert verify_attachments("x", [], _ctr("bridge"))


def test_attachments_none() -> None:
    assert verify_attachments("x", [], _ctr("none")) == []
    assert verify_attachments("x", [], _ctr()) == []
    assert verify_attachments("x", [], _ctr("a")) == [
        "container x: declared no network, attached to a"
    ]
