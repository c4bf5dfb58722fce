"""The resource graph: edges, layers, cycles named with their file:line, example graphs."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from aifo.compile import compile_session
from aifo.errors import SpecError
from aifo.model.graph import edges, layers, teardown_layers
from aifo.sessionspec import resolve
from tests.compile.helpers import context, resolved

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(glob.glob(str(ROOT / "examples/*/aifo.yaml"))) + [str(ROOT / "aifo.yaml.example")]

CYCLE = """\
version: 1
session: demo
agents:
  a:
    image: busybox:latest
    depends_on: [db]
services:
  db:
    image: busybox:latest
    depends_on: [a]
"""


DEPENDS = """\
version: 1
session: demo
agents:
  a:
    image: busybox:latest
    depends_on: {a}
services:
  db:
    image: busybox:latest
    depends_on: {db}
"""


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: Path(p).parent.name)
def test_example_graphs_put_dependencies_first(path: str) -> None:
    r = resolve(path, environ={"HOME": "/nonexistent-home"})
    s = compile_session(r, context=context())
    order = layers(s, locate=r.location)
    assert sorted(rid for layer in order for rid in layer) == sorted(s.resources)
    position = {rid: i for i, layer in enumerate(order) for rid in layer}
    for e in edges(s):
        assert position[e.target] < position[e.source], e
    assert teardown_layers(order) == order[::-1]


def test_quickstart_graph_is_exact() -> None:
    r = resolve(ROOT / "examples/quickstart/aifo.yaml", environ={"HOME": "/nonexistent-home"})
    s = compile_session(r, context=context())
    assert layers(s) == [["image/busybox:latest", "network/sandbox"], ["agent/hello"]]


def test_cycle_names_every_member_and_edge_location(tmp_path: Path) -> None:
    r = resolved(tmp_path, CYCLE)
    s = compile_session(r, context=context())
    with pytest.raises(SpecError) as err:
        layers(s, locate=r.location)
    f = str(tmp_path / "aifo.yaml")
    assert str(err.value) == (
        f"{f}:6:18: dependency cycle: agent/a → service/db → agent/a\n"
        f"    agent/a → service/db  ({f}:6)\n"
        f"    service/db → agent/a  ({f}:10)\n"
        "  hint: break the cycle: remove one depends_on or toolchain"
    )
    assert err.value.exit_code == 2


def test_graph_cli_json_is_stable(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    env = {"AIFO_STATE_DIR": str(tmp_path), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    cmd = [
        sys.executable,
        "-m",
        "aifo",
        "graph",
        str(ROOT / "examples/quickstart/aifo.yaml"),
        "--format",
        "json",
    ]
    one = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    two = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    assert one == two
    data = json.loads(one)
    assert {"from": "agent/hello", "to": "network/sandbox"} in data["edges"]
    assert [n["id"] for n in data["nodes"]] == sorted(n["id"] for n in data["nodes"])
    for fmt, needle in (("dot", '"agent/hello" -> "network/sandbox"'), ("mermaid", "graph LR")):
        out = subprocess.run(
            cmd[:-1] + [fmt], capture_output=True, text=True, env=env, check=True
        ).stdout
        assert needle in out


def test_validate_reports_a_cycle_with_exit_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    spec = tmp_path / "aifo.yaml"
    spec.write_text(CYCLE)
    env = {
        "AIFO_STATE_DIR": str(tmp_path.parent / f"{tmp_path.name}-state"),
        "HOME": "/nonexistent-home",
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "aifo", "validate", str(spec)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 2
    assert f"{spec}:6:18: dependency cycle: agent/a → service/db → agent/a" in proc.stdout
    assert "Traceback" not in proc.stderr


BLOCK_CYCLE = """\
version: 1
session: demo
agents:
  a:
    image: busybox:latest
    toolchains:
      - other
      - rust
toolchains:
  other:
    image: busybox:latest
  rust:
    image: busybox:latest
    depends_on:
      web: {}
services:
  web:
    image: busybox:latest
    depends_on:
      - a
"""


def test_three_member_cycle_points_at_each_list_item(tmp_path: Path) -> None:
    r = resolved(tmp_path, BLOCK_CYCLE)
    s = compile_session(r, context=context())
    with pytest.raises(SpecError) as err:
        layers(s, locate=r.location)
    f = str(tmp_path / "aifo.yaml")
    assert str(err.value) == (
        f"{f}:8:9: dependency cycle: agent/a → toolchain/rust → service/web → agent/a\n"
        f"    agent/a → toolchain/rust  ({f}:8)\n"
        f"    toolchain/rust → service/web  ({f}:15)\n"
        f"    service/web → agent/a  ({f}:20)\n"
        "  hint: break the cycle: remove one depends_on or toolchain"
    )


SHAPES = """\
version: 1
session: demo
networks: {net: {}}
volumes: {cache: {}}
agents:
  a: {image: "img:1", networks: [net], toolchains: [rust], depends_on: [db]}
toolchains:
  rust:
    image: "img:2"
    networks: [net]
    mounts: [{volume: cache, target: /cache}]
    hooks: [{name: warm, run: "true"}]
services:
  db: {image: "img:1"}
"""


def test_edges_run_from_dependent_to_dependency(tmp_path: Path) -> None:
    s = compile_session(resolved(tmp_path, SHAPES), context=context())
    assert sorted((e.source, e.target) for e in edges(s)) == [
        ("agent/a", "image/img:1"),
        ("agent/a", "network/net"),
        ("agent/a", "service/db"),
        ("agent/a", "toolchain/rust"),
        ("hook/rust/warm", "toolchain/rust"),
        ("service/db", "image/img:1"),
        ("toolchain/rust", "image/img:2"),
        ("toolchain/rust", "network/net"),
        ("toolchain/rust", "volume/cache"),
    ]
    order = layers(s)
    assert order == [
        ["image/img:1", "image/img:2", "network/net", "volume/cache"],
        ["service/db", "toolchain/rust"],
        ["agent/a", "hook/rust/warm"],
    ]
    assert teardown_layers(order) == order[::-1]


def test_graph_nodes_carry_resources_and_edges_their_origin(tmp_path: Path) -> None:
    from aifo.model.graph import build, edge_location

    r = resolved(tmp_path, SHAPES)
    s = compile_session(r, context=context())
    g = build(s, r.location)
    assert set(g.nodes) == set(s.resources)
    assert g.nodes["toolchain/rust"]["resource"] is s.resources["toolchain/rust"]
    assert g.edges["toolchain/rust", "volume/cache"]["where"] == ("toolchains", "rust", "mounts", 0)
    loc = edge_location(g, "agent/a", "service/db")
    assert loc is not None and (loc.line, loc.col) == (6, 73)  # the `db` in `[db]`


def test_reference_to_an_undeclared_resource_is_a_spec_error() -> None:
    from aifo.model import Container, Session

    s = Session(
        name="x",
        containers=(Container("a", "agent", "aifo-x-a", "img", networks=("ghost",)),),
    )
    with pytest.raises(SpecError, match="no network/ghost declared"):
        layers(s)


def test_layers_are_deterministic(tmp_path: Path) -> None:
    s = compile_session(resolved(tmp_path, SHAPES), context=context())
    assert all(layer == sorted(layer) for layer in layers(s))
    assert layers(s) == layers(s)
