"""Compile: images and builds, hooks, ordering, external resources, edge origins, plain input."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from aifo.compile import compile_session
from aifo.location import Location
from aifo.model import Container, Hook, Image, Network, Session, Volume
from tests.compile.helpers import context, session


def build_spec(ctx: Path, **build: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "session": "demo",
        "agents": {"a": {"image": {"build": {"context": str(ctx), **build}}}},
    }


def make_context(tmp: Path) -> Path:
    ctx = tmp / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY app /app\n")
    (ctx / "app").write_text("v1")
    return ctx


def agent(s: Session, name: str = "a") -> Container:
    c = s.resources[f"agent/{name}"]
    assert isinstance(c, Container)
    return c


def test_build_image_ref_and_hashes_follow_the_build_inputs(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    one = session(tmp_path, build_spec(ctx))
    (image,) = one.images
    assert image.build is not None and image.build.context == str(ctx)
    assert image.ref.startswith("aifo-demo-a:") and len(image.ref.split(":")[1]) == 12
    assert agent(one).image == image.ref
    assert session(tmp_path, build_spec(ctx)) == one  # stable

    (ctx / "app").write_text("v2")  # a changed context rebuilds and recreates
    two = session(tmp_path, build_spec(ctx))
    assert two.images[0].ref != image.ref
    assert agent(two).config_hash != agent(one).config_hash

    (ctx / "app").write_text("v1")
    three = session(tmp_path, build_spec(ctx, args={"VERSION": "2"}))  # so does a build arg
    assert three.images[0].ref != image.ref
    assert agent(three).config_hash != agent(one).config_hash


def test_named_build_keeps_its_name_but_the_container_follows_the_build(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)

    def spec(**build: Any) -> dict[str, Any]:
        data = build_spec(ctx, **build)
        data["agents"]["a"]["image"]["name"] = "me/agent:dev"
        return data

    one = session(tmp_path, spec())
    two = session(tmp_path, spec(target="final"))
    assert one.images[0].ref == two.images[0].ref == "me/agent:dev"
    assert one.images[0].config_hash != two.images[0].config_hash
    assert agent(one).config_hash != agent(two).config_hash


def test_dockerignored_change_keeps_every_hash(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    (ctx / ".dockerignore").write_text("*.log\n")
    (ctx / "debug.log").write_text("1")
    one = session(tmp_path, build_spec(ctx))
    (ctx / "debug.log").write_text("2")
    assert session(tmp_path, build_spec(ctx)).images == one.images


def test_one_image_per_distinct_ref(tmp_path: Path) -> None:
    s = session(
        tmp_path,
        {
            "version": 1,
            "session": "demo",
            "agents": {"a": {"image": "busybox:latest"}, "b": {"image": "busybox:latest"}},
            "services": {"c": {"image": "alpine:3", "pull": "never"}},
        },
    )
    assert [(i.ref, i.pull) for i in s.images] == [
        ("alpine:3", "never"),
        ("busybox:latest", "missing"),
    ]


HOOKS: dict[str, Any] = {
    "version": 1,
    "session": "demo",
    "toolchains": {
        "rust": {
            "image": "busybox:latest",
            "hooks": [
                {"name": "fetch", "run": "cargo fetch && echo 'done'"},
                {
                    "name": "perms",
                    "run": ["chmod", "1777", "/cache"],
                    "user": "0",
                    "allow": "root",
                },
            ],
        }
    },
}


def test_hooks(tmp_path: Path) -> None:
    s = session(tmp_path, HOOKS)
    fetch, perms = s.hooks
    assert isinstance(fetch, Hook)
    assert (fetch.id, fetch.container) == ("hook/rust/fetch", "toolchain/rust")
    assert fetch.command == ("/bin/sh", "-c", "cargo fetch && echo 'done'")
    assert (perms.command, perms.user, fetch.user) == (("chmod", "1777", "/cache"), "0", None)
    # A hook reruns when its container is recreated: its hash follows the container's.
    changed = json.loads(json.dumps(HOOKS))
    changed["toolchains"]["rust"]["env"] = {"A": "1"}
    again = session(tmp_path, changed)
    assert again.hooks[0].config_hash != fetch.config_hash
    assert session(tmp_path, HOOKS).hooks[0].config_hash == fetch.config_hash


def test_collections_are_sorted(tmp_path: Path) -> None:
    s = session(
        tmp_path,
        {
            "version": 1,
            "session": "demo",
            "networks": {"zeta": {}, "alpha": {}},
            "volumes": {"v": {}},
            "agents": {
                "a": {
                    "image": "busybox:latest",
                    "networks": ["zeta", "alpha"],
                    "env": {"Z": 1, "A": True, "M": 1.5},
                    "mounts": [{"tmpfs": "/z"}, {"volume": "v", "target": "/b"}],
                    "labels": {"y": "1", "x": "2"},
                }
            },
        },
    )
    c = agent(s)
    assert c.networks == ("alpha", "zeta")
    assert [(e.key, e.value) for e in c.env] == [
        ("A", "true"),
        ("HOME", "/home/aifo"),  # a read-only root's writable HOME
        ("M", "1.5"),
        ("Z", "1"),
    ]
    assert [m.target for m in c.mounts] == ["/b", "/home/aifo", "/tmp", "/workspace", "/z"]
    assert c.labels == (("x", "2"), ("y", "1"))
    assert [n.name for n in s.networks] == ["alpha", "zeta"]


def test_external_resources_keep_their_own_names(tmp_path: Path) -> None:
    s = session(
        tmp_path,
        {
            "version": 1,
            "session": "demo",
            "networks": {"corp": {"external": True, "name": "corp-net"}, "lan": {"external": True}},
            "volumes": {
                "data": {"external": True, "name": "shared-data"},
                "cache": {"scope": "shared"},
            },
            "agents": {"a": {"image": "busybox:latest", "networks": ["corp", "lan"]}},
        },
    )
    names = {r.id: r.docker_name for r in s.networks} | {v.id: v.docker_name for v in s.volumes}
    assert names == {
        "network/corp": "corp-net",
        "network/lan": "lan",
        "volume/data": "shared-data",
        "volume/cache": "aifo-shared-cache",
    }
    assert all(isinstance(r, Network | Volume) and r.config_hash for r in (*s.networks, *s.volumes))


def test_depends_on_conditions_default_to_the_targets_readiness(tmp_path: Path) -> None:
    s = session(
        tmp_path,
        {
            "version": 1,
            "session": "demo",
            "agents": {
                "a": {
                    "image": "busybox:latest",
                    "depends_on": {"db": {}, "web": {"condition": "started"}},
                },
                "b": {"image": "busybox:latest", "depends_on": ["db"]},
            },
            "services": {
                "db": {
                    "image": "busybox:latest",
                    "readiness": "healthy",
                    "healthcheck": {"test": "true"},
                },
                "web": {"image": "busybox:latest"},
            },
        },
    )
    assert [(d.target, d.condition) for d in agent(s).depends_on] == [
        ("service/db", "healthy"),
        ("service/web", "started"),
    ]
    assert [(d.target, d.condition) for d in agent(s, "b").depends_on] == [
        ("service/db", "healthy")
    ]
    # Where each edge was declared: mapping keys by name, list items by index.
    assert s.origins[("agent/a", "service/web")] == ("agents", "a", "depends_on", "web")
    assert s.origins[("agent/b", "service/db")] == ("agents", "b", "depends_on", 0)


@dataclass(frozen=True)
class PlainSpec:
    """The duck-typed input compile accepts: no resolver involved."""

    data: dict[str, Any]
    file: Path
    base_dir: Path
    locations: dict[tuple[str | int, ...], Location] = field(default_factory=dict)

    def location(self, *path: str | int) -> Location | None:
        return self.locations.get(tuple(path))


def test_compile_takes_any_resolved_like_input(tmp_path: Path) -> None:
    spec = PlainSpec(
        data={
            "version": 1,
            "session": "plain",
            "toolchains": {"rust": {"image": "rust:{version}-slim", "version": "1.82"}},
            "agents": {
                "a": {"image": "busybox:latest", "toolchains": ["rust"], "command": "sleep 1"}
            },
        },
        file=tmp_path / "aifo.yaml",
        base_dir=tmp_path,
    )
    s = compile_session(spec, context=context())
    assert s.name == "plain" and s.spec_file == str(tmp_path / "aifo.yaml")
    assert agent(s).toolchains == ("toolchain/rust",) and agent(s).command == ("sleep", "1")
    assert isinstance(s.resources["image/rust:1.82-slim"], Image)
    workspace = [m for m in agent(s).mounts if m.target == "/workspace"]
    assert workspace[0].source == str(tmp_path)


def test_compile_errors_are_collected_and_located(tmp_path: Path) -> None:
    from aifo.errors import SpecError

    where = Location(str(tmp_path / "aifo.yaml"), 7, 5)
    spec = PlainSpec(
        data={
            "version": 1,
            "session": "plain",
            "agents": {
                "a": {"image": "rust:{version}"},
                "b": {"image": "busybox:latest", "resources": {"memory": "lots"}},
            },
        },
        file=tmp_path / "aifo.yaml",
        base_dir=tmp_path,
        locations={("agents", "a", "image"): where},
    )
    with pytest.raises(SpecError) as err:
        compile_session(spec, context=context())
    assert [(i.location, i.path) for i in err.value.issues] == [
        (None, "agents.b"),
        (where, "agents.a.image"),
    ]
    assert "not a size: 'lots'" in str(err.value)


def test_an_unreadable_build_context_is_a_located_error(tmp_path: Path) -> None:
    from aifo.errors import SpecError
    from tests.compile.helpers import resolved

    def unreadable(_context: str, _dockerfile: str | None) -> str:
        raise PermissionError(13, "Permission denied", "secret.pem")

    r = resolved(tmp_path, build_spec(make_context(tmp_path)))
    with pytest.raises(SpecError) as err:
        compile_session(r, context=context(build_hash=unreadable))
    (issue,) = err.value.issues
    assert issue.path == "agents.a.image.build.context" and issue.location is not None
    assert "cannot read the context: [Errno 13] Permission denied: 'secret.pem'" in issue.message
