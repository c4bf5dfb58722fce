"""Parsing of inspect output and listings (pure)."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import pytest

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
    assert c.addresses == bare.addresses == ()  # a stopped container has no address


def test_container_addresses_per_network() -> None:
    """What names an egress record's source (aifo.egress.naming): every address per network."""
    c = parse.container(
        {
            "Id": "abc",
            "Name": "/aifo-s-x",
            "NetworkSettings": {
                "Networks": {
                    "b": {"IPAddress": "10.2.0.3", "GlobalIPv6Address": "fd00::3"},
                    "a": {"IPAddress": "10.1.0.3", "GlobalIPv6Address": ""},
                    "c": None,
                }
            },
        }
    )
    assert c.addresses == (("a", "10.1.0.3"), ("b", "10.2.0.3"), ("b", "fd00::3"))


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


def _shape(sig: inspect.Signature) -> tuple[list[object], dict[str, bool]]:
    """(the kinds of the positional parameters, {keyword-only name: required})."""
    params = sig.parameters.values()
    keyword = inspect.Parameter.KEYWORD_ONLY
    positional: list[object] = [p.kind for p in params if p.kind != keyword]
    return positional, {p.name: p.default is p.empty for p in params if p.kind == keyword}


def _mismatch(method: str, wanted: inspect.Signature, found: inspect.Signature) -> list[str]:
    """Callers pass positional arguments by position (names may differ: the socket adapter's
    `container` where the protocol says `ref`) and the rest by keyword: every keyword of the
    contract must be taken, and any extra one must be optional."""
    (want_pos, want_kw), (have_pos, have_kw) = _shape(wanted), _shape(found)
    out = []
    if have_pos != want_pos:
        out.append(f"{method}: positional {have_pos} != {want_pos}")
    if missing := sorted(set(want_kw) - set(have_kw)):
        out.append(f"{method}: does not take {missing}")
    if required := sorted(k for k, req in have_kw.items() if req and k not in want_kw):
        out.append(f"{method}: requires {required}, which callers never pass")
    return out


def _contract() -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(Engine).items()
        if callable(member) and not name.startswith("_")
    }


@pytest.mark.parametrize(
    "adapter",
    [
        "aifo.engine.client:DockerEngine",
        "aifo.engine.socket_engine:SocketEngine",
        "aifo.engine.podman:PodmanEngine",
    ],
)
def test_each_adapter_has_every_method_of_the_contract(adapter: str) -> None:
    # mypy checks the structural match where an adapter is assigned to `Engine` (tests are
    # type-checked too); this checks every adapter at run time, method by method, parameter
    # names and kinds included, so a renamed keyword fails here as well.
    module, _, name = adapter.partition(":")
    cls = getattr(importlib.import_module(module), name)
    problems = []
    for method, wanted in _contract().items():
        found = getattr(cls, method, None)
        if not callable(found):
            problems.append(f"{method}: missing")
            continue
        problems += _mismatch(method, wanted, inspect.signature(found))
    assert problems == []
    assert len(_contract()) > 20  # the protocol's methods were found


def test_the_contract_check_sees_what_breaks_a_caller() -> None:
    from aifo.engine.client import DockerEngine

    def want(self: object, ref: str, *, timeout_s: float = 1.0) -> None: ...
    def renamed(self: object, ref: str, *, timeout: float = 1.0) -> None: ...
    def stricter(self: object, ref: str, *, timeout_s: float = 1.0, force: bool) -> None: ...
    def more(self: object, ref: str, extra: str, *, timeout_s: float = 1.0) -> None: ...

    sig = inspect.signature
    assert _mismatch("m", sig(want), sig(want)) == []
    assert _mismatch("m", sig(want), sig(renamed)) == ["m: does not take ['timeout_s']"]
    assert _mismatch("m", sig(want), sig(stricter))[0].startswith("m: requires ['force']")
    assert _mismatch("m", sig(want), sig(more))[0].startswith("m: positional")
    engine: Engine = DockerEngine()  # and mypy checks the structural match
    assert isinstance(engine, DockerEngine)


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
