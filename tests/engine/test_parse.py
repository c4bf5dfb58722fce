"""Parsing of inspect output and listings (pure)."""

from __future__ import annotations

import subprocess
import sys

from aifo.engine import parse
from aifo.engine.api import Engine


def test_listing() -> None:
    rows = parse.listing("id1\tname1\ts\nid2\tother/link,name2\t\n\nvol\ts\n")
    assert [(r.id, r.name, r.session) for r in rows] == [
        ("id1", "name1", "s"),
        ("id2", "name2", ""),
        ("vol", "vol", "s"),
    ]
    extra = parse.listing("id3\tname3\ts\tagent/a\ttoolchain/t,service/d\nid4\tname4\ts\t\t\n")
    assert [r.extra for r in extra] == [("agent/a", "toolchain/t,service/d"), ("", "")]


def test_inspect_array_tolerates_partial_and_garbage() -> None:
    assert parse.inspect_array("") == []
    assert parse.inspect_array("[]\n") == []
    assert parse.inspect_array("not json") == []
    assert parse.inspect_array('[{"Id": "a"}, 3]') == [{"Id": "a"}]


def test_container() -> None:
    c = parse.container(
        {
            "Id": "abc",
            "Name": "/aifo-s-x",
            "Image": "sha256:1",
            "State": {"Status": "exited", "ExitCode": 3, "Health": {"Status": "unhealthy"}},
            "Config": {"Labels": {"io.aifo.config-hash": "h"}},
            "NetworkSettings": {"Networks": {"b": {}, "a": {}}},
        }
    )
    assert (c.name, c.state, c.exit_code, c.health, c.networks) == (
        "aifo-s-x",
        "exited",
        3,
        "unhealthy",
        ("a", "b"),
    )
    assert c.config_hash == "h" and c.image_id == "sha256:1"
    bare = parse.container({"Id": "x", "Name": "/y", "Config": {"Labels": None}})
    assert bare.labels == {} and bare.health is None and bare.networks == ()


def test_network_and_volume() -> None:
    n = parse.network(
        {
            "Id": "n",
            "Name": "net",
            "Driver": "bridge",
            "Internal": True,
            "Labels": None,
            "IPAM": {"Config": [{"Subnet": "10.0.0.0/24", "Gateway": "10.0.0.1"}, {}]},
        }
    )
    assert n.internal and n.subnets == ("10.0.0.0/24",) and n.labels == {}
    assert parse.volume({"Name": "v", "Labels": {"a": "b"}}).labels == {"a": "b"}


def test_missing_refs_from_real_stderr() -> None:
    stderr = (
        "Error response from daemon: no such image: nosuch/img:1: No such image: nosuch/img:1\n"
        "Error response from daemon: No such container: c1\n"
        "Error response from daemon: network n1 not found\n"
        "Error response from daemon: get v1: no such volume\n"
    )
    assert parse.missing_refs(stderr) == {"nosuch/img:1", "c1", "n1", "v1"}


def test_match_images_in_order_and_by_tag() -> None:
    found: list[parse.Json] = [
        {"Id": "sha256:aa", "RepoTags": ["busybox:latest"]},
        {"Id": "sha256:bb"},
    ]
    assert {
        r: i.id for r, i in parse.match_images(["busybox", "x", "y"], found, {"x"}).items()
    } == {
        "busybox": "sha256:aa",
        "y": "sha256:bb",
    }
    # counts disagree (stderr unparsable): fall back to tags and ids
    matched = parse.match_images(["busybox", "bb", "zz"], found, set())
    assert {r: i.id for r, i in matched.items()} == {"busybox": "sha256:aa", "bb": "sha256:bb"}


def test_docker_engine_satisfies_the_contract() -> None:
    from aifo.engine.client import DockerEngine

    engine: Engine = DockerEngine()  # mypy checks the structural match
    assert engine is not None


def test_imports_stay_cheap() -> None:
    code = (
        "import sys, aifo.engine, aifo.engine.api, aifo.engine.client;"
        "assert 'python_on_whales' not in sys.modules, 'python_on_whales imported';"
        "assert 'aifo.engine.client' in sys.modules;"
        "import aifo.engine as e; e.DockerEngine"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    lazy = "import sys, aifo.engine; assert 'aifo.engine.client' not in sys.modules"
    subprocess.run([sys.executable, "-c", lazy], check=True)


def test_tmpfs_mounts_made_with_tmpfs_options_are_facts_too() -> None:
    """aifo's executable tmpfs live in HostConfig.Tmpfs, not Mounts: drift must see them."""
    from aifo.model.observed import MountFact

    facts = parse.facts(
        {"HostConfig": {"Mounts": [], "Tmpfs": {"/tmp": "rw,exec,nosuid,nodev,mode=1777,size=8m",
                                                "/home/aifo": "rw,exec,mode=1777"}}}
    )  # fmt: skip
    assert facts.mounts == (
        MountFact("/home/aifo", "tmpfs"),
        MountFact("/tmp", "tmpfs", tmpfs_bytes=8 * 1024 * 1024),
    )
