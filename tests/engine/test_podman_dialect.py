"""Podman's inspect in Docker's shape (pure; the inputs are captured from Podman 4.3)."""

from __future__ import annotations

from typing import Any

from aifo.engine import parse
from aifo.engine.podman_dialect import DEFAULT_CAPS, capabilities, to_docker


def test_drop_all_is_reported_as_all() -> None:
    assert capabilities([], sorted(DEFAULT_CAPS)) == ([], ["ALL"])


def test_drop_all_plus_an_added_default() -> None:
    assert capabilities([], sorted(DEFAULT_CAPS - {"CHOWN"})) == (["CAP_CHOWN"], ["ALL"])
    added, dropped = capabilities(["CAP_NET_ADMIN"], sorted(DEFAULT_CAPS))
    assert (added, dropped) == (["CAP_NET_ADMIN"], ["ALL"])


def test_a_partial_drop_stays_as_it_is() -> None:
    assert capabilities([], ["NET_RAW"]) == ([], ["NET_RAW"])
    assert capabilities([], []) == ([], [])


def test_mounts_from_the_top_level_and_tmpfs() -> None:
    data: dict[str, Any] = {
        "Mounts": [
            {"Type": "volume", "Name": "v", "Source": "/var/lib/x", "Destination": "/data",
             "RW": True},
            {"Type": "bind", "Source": "/tmp", "Destination": "/b", "RW": False},
        ],
        "HostConfig": {
            "Mounts": None,
            "ReadonlyRootfs": True,
            "Tmpfs": {
                "/t": "size=8m,rw,rprivate,nosuid,nodev,tmpcopyup",
                "/run": "rw,rprivate,nosuid,nodev,tmpcopyup",  # Podman's, for the read-only root
                "/tmp": "rw,rprivate,nosuid,nodev,tmpcopyup",
            },
            "CapDrop": sorted(DEFAULT_CAPS),
        },
    }  # fmt: skip
    facts = parse.facts(to_docker(data))
    assert facts.cap_drop == ("ALL",)
    assert [(m.kind, m.target, m.source, m.read_only, m.tmpfs_bytes) for m in facts.mounts] == [
        ("bind", "/b", "/tmp", True, None),
        ("volume", "/data", "v", False, None),
        ("tmpfs", "/t", "", False, 8 * 1024 * 1024),
    ]
    assert data["HostConfig"]["Mounts"] is None  # the input is left as it was
