"""A service observed as the container it stands for (aifo.engine.swarm.observe). Pure: Swarm's
documents written by hand; the real engine is in the swarm tier."""

from __future__ import annotations

from aifo.engine.swarm.observe import container
from aifo.engine.swarm.tasks import TaskRef
from aifo.model import LABEL_RESOURCE, LABEL_SESSION


def test_running_task_addresses_pass_through_without_the_private_overlay() -> None:
    """The task container's addresses name an egress record's client (aifo.egress.naming)."""
    service = {
        "ID": "svc",
        "Spec": {
            "Name": "aifo-s-a",
            "Labels": {LABEL_SESSION: "s", LABEL_RESOURCE: "agent/a"},
            "Mode": {"Replicated": {"Replicas": 1}},
            "TaskTemplate": {"Networks": [{"Target": "n1"}, {"Target": "p1"}]},
        },
    }
    task = TaskRef("svc", "node", "cid", "running", "", desired="running")
    inspected = {
        "Id": "cid",
        "Name": "/aifo-s-a.1.x",
        "State": {"Status": "running"},
        "NetworkSettings": {
            "Networks": {
                "aifo-s-net": {"IPAddress": "10.0.1.5"},
                "aifo-s-a-own": {"IPAddress": "10.0.9.5"},
            }
        },
    }
    names = {"n1": "aifo-s-net", "p1": "aifo-s-a-own"}
    seen = container(service, [task], inspected, {}, names, solo=frozenset({"p1"}))
    assert seen.addresses == (("aifo-s-net", "10.0.1.5"),)
    stopped = container(service, [], None, {}, names)
    assert stopped.addresses == ()
