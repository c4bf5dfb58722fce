"""Every default is applied by compile, per role, and spelling one out never changes a hash.

Table-driven: DEFAULTS lists (field, agent, toolchain, service) as compiled from a bare container;
SPELLED_OUT lists spec fragments that only restate a default (including every `default` keyword
of schema/session.schema.json, which compile must agree with).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aifo.model import Container, Network, Session, Volume
from tests.compile.helpers import context, resolved, session

ROOT = Path(__file__).resolve().parents[2]

BARE: dict[str, Any] = {
    "version": 1,
    "session": "demo",
    "networks": {"sandbox": {}},
    "volumes": {"notes": {}},
    "agents": {"a": {"image": "busybox:latest"}},
    "toolchains": {"t": {"image": "busybox:latest"}},
    "services": {"s": {"image": "busybox:latest"}},
}

WS = "/workspace"
TMPFS = [("tmpfs", "/home/aifo", False), ("tmpfs", "/tmp", False)]  # read-only root: writable

# field -> (agent, toolchain, service); "WS_MOUNT" stands for the workspace bind mount.
DEFAULTS: list[tuple[str, Any, Any, Any]] = [
    ("docker_name", "aifo-demo-a", "aifo-demo-t", "aifo-demo-s"),
    ("aliases", ("a",), ("t",), ("s",)),
    ("init", True, True, True),
    ("cap_drop", ("ALL",), ("ALL",), ("ALL",)),
    ("cap_add", (), (), ()),
    ("no_new_privileges", True, True, True),
    ("privileged", False, False, False),
    ("read_only", True, True, True),
    ("security_opt", (), (), ()),
    ("pids_limit", 4096, 4096, 4096),
    ("memory_bytes", None, None, None),
    ("cpus", None, None, None),
    ("user", "1000:1000", "1000:1000", None),
    ("working_dir", WS, WS, None),
    ("mounts", "WS_MOUNT", "WS_MOUNT", "TMP_ONLY"),
    ("networks", (), (), ()),
    ("restart", "no", "no", "no"),
    ("tty", False, False, False),
    ("healthcheck", None, None, None),
    ("ports", (), (), ()),
    ("labels", (), (), ()),
    ("env", "HOME", "HOME", ()),  # a read-only root gets a writable HOME (not the image's user)
    ("command", None, None, None),
    ("entrypoint", None, None, None),
    ("run", None, None, None),
    ("depends_on", (), (), ()),
    ("toolchains", (), (), ()),
    ("readiness_timeout_s", 60.0, 60.0, 60.0),
]


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Session:
    return session(tmp_path_factory.mktemp("bare"), BARE)


def _container(s: Session, rid: str) -> Container:
    c = s.resources[rid]
    assert isinstance(c, Container)
    return c


@pytest.mark.parametrize(
    ("field", "agent", "toolchain", "service"), DEFAULTS, ids=[d[0] for d in DEFAULTS]
)
def test_container_defaults(
    bare: Session, field: str, agent: Any, toolchain: Any, service: Any
) -> None:
    for rid, expected in (("agent/a", agent), ("toolchain/t", toolchain), ("service/s", service)):
        got = getattr(_container(bare, rid), field)
        if expected == "WS_MOUNT":
            shapes = [(m.kind, m.target, m.read_only) for m in got]
            assert shapes == [*TMPFS, ("bind", WS, False)]
            assert got[-1].source == str(Path(bare.spec_file or "").parent)
        elif expected == "TMP_ONLY":  # the image's own user keeps the image's HOME
            assert [(m.kind, m.target, m.read_only) for m in got] == [("tmpfs", "/tmp", False)]
        elif expected == "HOME":
            assert [(e.key, e.value, e.secret) for e in got] == [("HOME", "/home/aifo", False)]
        else:
            assert got == expected, (rid, field)


def test_resource_defaults(bare: Session) -> None:
    net = bare.resources["network/sandbox"]
    vol = bare.resources["volume/notes"]
    assert isinstance(net, Network) and isinstance(vol, Volume)
    assert (net.docker_name, net.internal, net.external, net.driver, net.subnet) == (
        "aifo-demo-sandbox",
        False,
        False,
        "bridge",
        None,
    )
    assert (vol.docker_name, vol.external, vol.shared) == ("aifo-demo-notes", False, False)
    image = bare.resources["image/busybox:latest"]
    assert image.pull == "missing" and image.build is None  # type: ignore[union-attr]
    assert [i.ref for i in bare.images] == ["busybox:latest"]  # one Image per distinct ref


def test_apparmor_confines_by_default_when_the_engine_has_it(tmp_path: Path) -> None:
    from aifo.compile import compile_session

    s = compile_session(resolved(tmp_path, BARE), context=context(apparmor=True))
    assert _container(s, "agent/a").security_opt == ("apparmor=docker-default",)


def test_component_defaults(tmp_path: Path) -> None:
    data: dict[str, Any] = json.loads(json.dumps(BARE))
    data["agents"]["a"].update(
        healthcheck={"test": ["true"]},
        ports=[{"container": 80, "host": 8080}, "9000"],
        mounts=[{"volume": "notes", "target": "/notes"}, {"tmpfs": "/scratch"}],
        depends_on=["s"],
        security={"read_only": True},
    )
    c = _container(session(tmp_path, data), "agent/a")
    assert c.healthcheck is not None
    assert (c.healthcheck.interval_s, c.healthcheck.timeout_s, c.healthcheck.retries) == (5, 3, 3)
    assert c.healthcheck.start_period_s == 0 and c.healthcheck.test == ("CMD", "true")
    assert {(p.host_ip, p.protocol) for p in c.ports} == {("127.0.0.1", "tcp")}
    assert [(m.kind, m.target, m.read_only) for m in c.mounts] == [
        ("tmpfs", "/home/aifo", False),  # read_only root → a writable HOME and /tmp
        ("volume", "/notes", False),
        ("tmpfs", "/scratch", False),
        ("tmpfs", "/tmp", False),
        ("bind", WS, False),
    ]
    assert [(d.target, d.condition) for d in c.depends_on] == [("service/s", "started")]


# Fragments that restate a default: (where, fragment) merged into BARE's agent "a" unless
# `where` names another place.
SPELLED_OUT: list[tuple[str, dict[str, Any]]] = [
    ("agent", {"init": True}),
    ("agent", {"tty": False}),
    ("agent", {"restart": "no"}),
    ("agent", {"pull": "missing"}),
    ("agent", {"user": "host"}),
    ("agent", {"workspace": True}),
    ("agent", {"networks": []}),
    ("agent", {"readiness": "started"}),
    ("agent", {"readiness_timeout": "60s"}),
    ("agent", {"resources": {"pids": 4096}}),
    ("agent", {"security": {"cap_drop": ["ALL"]}}),
    ("agent", {"security": {"no_new_privileges": True}}),
    ("agent", {"security": {"read_only": True, "privileged": False}}),
    ("agent", {"env": {}, "labels": {}, "ports": [], "mounts": []}),
    ("agent", {"routing": {"max_concurrent": 8}}),
    ("service", {"user": "image"}),
    ("service", {"workspace": False}),
    ("workspace", {"target": "/workspace", "read_only": False}),
    ("network", {"internal": False, "driver": "bridge", "external": False}),
    ("volume", {"external": False, "scope": "session"}),
]


def _apply(where: str, fragment: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(BARE))
    target = {
        "agent": data["agents"]["a"],
        "service": data["services"]["s"],
        "network": data["networks"]["sandbox"],
        "volume": data["volumes"]["notes"],
    }.get(where)
    if where == "workspace":
        data["workspace"] = fragment
    else:
        assert target is not None
        target.update(fragment)
    return data


def _hashes(s: Session) -> dict[str, str]:
    return {rid: r.config_hash for rid, r in s.resources.items()}


@pytest.mark.parametrize(("where", "fragment"), SPELLED_OUT, ids=lambda v: json.dumps(v))
def test_spelling_out_a_default_changes_no_hash(
    tmp_path: Path, where: str, fragment: dict[str, Any]
) -> None:
    # Same folder for both: the workspace bind's source is the spec's folder.
    assert _hashes(session(tmp_path, _apply(where, fragment))) == _hashes(session(tmp_path, BARE))


def test_schema_defaults_are_all_covered() -> None:
    """A new `default` in the schema must be added to SPELLED_OUT (compile is the authority)."""
    schema = json.loads((ROOT / "schema/session.schema.json").read_text())
    found: set[str] = set()

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            default = node.get("default")
            if "default" in node and not isinstance(default, dict):
                found.add(path[-1])
            for key, value in node.items():
                walk(value, (*path, key))
        elif isinstance(node, list):
            for value in node:
                walk(value, path)

    walk(schema, ())
    spelled = {key for _w, fragment in SPELLED_OUT for key in _keys(fragment)}
    # Defaults of values the spec stage consumes before compile (env sources, bind `create`,
    # workspace path made absolute), port fields (covered by test_component_defaults) and
    # builds' trust_host_cas (tests/images/test_host_cas.py: false is the same build as absent).
    consumed = {"secret", "required", "create", "path", "host_ip", "protocol", "trust_host_cas"}
    assert found - consumed <= spelled, sorted(found - consumed - spelled)


def _keys(fragment: dict[str, Any]) -> set[str]:
    out = set(fragment)
    for value in fragment.values():
        if isinstance(value, dict):
            out |= _keys(value)
    return out
