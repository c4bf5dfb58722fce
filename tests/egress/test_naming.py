"""The address → client mapping of egress records (aifo.egress.naming). Pure: hand-written
snapshots; the real engine's view is in test_client_naming_docker.py."""

from __future__ import annotations

from aifo.egress.naming import (
    AMBIGUOUS,
    UNMAPPED,
    directory,
    name,
    normal_address,
    proxy_networks,
    spec_name,
)
from aifo.model import LABEL_RESOURCE, LABEL_SESSION
from aifo.model.observed import ObservedContainer, Snapshot

SESSION = "s"


def container(
    docker: str, rid: str | None, *addresses: tuple[str, str], session: str = SESSION
) -> ObservedContainer:
    labels = {LABEL_SESSION: session}
    if rid is not None:
        labels[LABEL_RESOURCE] = rid
    networks = tuple(sorted({n for n, _ in addresses}))
    return ObservedContainer(
        id=docker, name=docker, labels=labels, networks=networks, addresses=addresses
    )


def snapshot(*containers: ObservedContainer) -> Snapshot:
    return Snapshot(session=SESSION, containers={c.name: c for c in containers})


PROXY = container(
    "aifo-s-egress-proxy", "service/egress-proxy", ("net-a", "10.1.0.2"), ("net-b", "10.2.0.2")
)


def test_directory_maps_addresses_on_the_proxy_networks_only() -> None:
    snap = snapshot(
        PROXY,
        container("aifo-s-a", "agent/a", ("net-a", "10.1.0.3"), ("other", "10.9.0.3")),
        container("aifo-s-b.next", "toolchain/b", ("net-b", "fd00::3")),
        container("aifo-s-x", None, ("net-a", "10.1.0.7")),  # no resource label: not ours
        container("aifo-t-y", "agent/y", ("net-a", "10.1.0.8"), session="t"),  # another session
    )
    table = directory(snap, proxy_networks(snap, "aifo-s-egress-proxy"))
    assert table == {
        "10.1.0.2": frozenset({"egress-proxy"}),
        "10.2.0.2": frozenset({"egress-proxy"}),
        "10.1.0.3": frozenset({"a"}),
        "fd00::3": frozenset({"b"}),
    }
    assert proxy_networks(snap, "aifo-s-gone") == ()
    assert directory(snap, ()) == {}


def test_engine_mapping_wins_and_a_disagreement_is_noted() -> None:
    table = {"10.1.0.3": frozenset({"a"})}
    assert name("10.1.0.3", None, table) == {"client": "a"}  # the proxy had no name yet
    assert name("10.1.0.3", "a", table) == {"client": "a"}  # agreement: nothing to note
    assert name("10.1.0.3", "b", table) == {"client": "a", "proxy_client": "b"}


def test_unmapped_or_ambiguous_address_stays_unnamed() -> None:
    table = {"10.1.0.3": frozenset({"a", "b"})}
    assert name("10.1.0.9", None, table) == {"client": None, "unnamed": UNMAPPED}
    assert name("10.1.0.9", "a", table) == {
        "client": None,
        "unnamed": UNMAPPED,
        "proxy_client": "a",
    }
    assert name("10.1.0.3", "a", table) == {
        "client": None,
        "unnamed": f"{AMBIGUOUS}: a, b",
        "proxy_client": "a",
    }


def test_normal_address_and_spec_name() -> None:
    assert normal_address("::ffff:10.1.0.3") == "10.1.0.3"
    assert normal_address("FD00:0::3") == "fd00::3"
    for bad in ("", "10.1.0.300", "aifo-s-a.net", "1" * 65):
        assert normal_address(bad) is None
    assert spec_name(container("x", "agent/a")) == "a"
    for rid in (None, "agent", "agent/", "/a"):
        assert spec_name(container("x", rid)) is None
