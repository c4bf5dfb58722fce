"""`aifo graph` and its renderers: stable JSON, tree, dot, mermaid; no secret ever printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aifo.compile import compile_session
from aifo.model.graph import edges
from aifo.ui import graph as render
from tests.compile.helpers import context, resolved

SECRET = "hunter2-never-print-me"

SPEC = (
    """\
version: 1
session: demo
networks: {net: {}, corp: {external: true, name: corp-net}}
agents:
  a:
    image: "img:1"
    networks: [net, corp]
    toolchains: [rust]
    env:
      TOKEN: {from_host: TOKEN, secret: true}
      PW: {value: "SECRET", secret: true}
  b: {image: "img:1", toolchains: [rust]}
toolchains:
  rust: {image: "img:2", networks: [net]}
"""
).replace("SECRET", SECRET)


def run(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "AIFO_STATE_DIR": str(tmp.parent / f"{tmp.name}-state"),
        "HOME": "/nonexistent-home",
        "PATH": "/usr/bin:/bin",
        "TOKEN": SECRET,
    }
    return subprocess.run(
        [sys.executable, "-m", "aifo", "graph", *args], capture_output=True, text=True, env=env
    )


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "aifo.yaml"
    path.write_text(SPEC)
    return path


def test_json_shape(tmp_path: Path, spec_file: Path) -> None:
    proc = run(tmp_path, str(spec_file), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert list(data) == ["edges", "layers", "nodes", "routes", "session"]
    assert data["session"] == "demo"
    assert data["nodes"][0] == {
        "config_hash": data["nodes"][0]["config_hash"],
        "id": "agent/a",
        "kind": "agent",
        "name": "a",
    }
    assert [n["id"] for n in data["nodes"]] == [
        "agent/a",
        "agent/b",
        "image/img:1",
        "image/img:2",
        "network/corp",
        "network/net",
        "toolchain/rust",
    ]
    assert all(len(n["config_hash"]) == 64 for n in data["nodes"])
    assert data["edges"] == sorted(data["edges"], key=lambda e: (e["from"], e["to"]))
    assert data["layers"] == [
        ["image/img:1", "image/img:2", "network/corp", "network/net"],
        ["toolchain/rust"],
        ["agent/a", "agent/b"],
    ]
    assert run(tmp_path, str(spec_file), "-o", "json").stdout == proc.stdout  # stable


def test_no_format_ever_prints_a_secret(tmp_path: Path, spec_file: Path) -> None:
    for fmt in ("json", "tree", "dot", "mermaid"):
        proc = run(tmp_path, str(spec_file), "--format", fmt)
        assert proc.returncode == 0, proc.stderr
        assert SECRET not in proc.stdout + proc.stderr, fmt


def test_a_rotated_secret_changes_the_hash_shown(
    tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Digests are keyed by the session's key, which only a state-writing command (apply)
    # creates; make it here as apply would.
    from aifo.state.secrets import session_key

    monkeypatch.setenv("AIFO_STATE_DIR", str(tmp_path.parent / f"{tmp_path.name}-state"))
    session_key("demo")

    def hash_of_a(token: str) -> str:
        env = {
            "AIFO_STATE_DIR": str(tmp_path.parent / f"{tmp_path.name}-state"),
            "HOME": "/nonexistent-home",
            "PATH": "/usr/bin:/bin",
            "TOKEN": token,
        }
        out = subprocess.run(
            [sys.executable, "-m", "aifo", "graph", str(spec_file), "-o", "json"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
        return str(next(n["config_hash"] for n in json.loads(out)["nodes"] if n["id"] == "agent/a"))

    assert hash_of_a("one") == hash_of_a("one") != hash_of_a("two")


def test_without_a_session_key_the_hash_is_stable_and_blind_to_secrets(tmp_path: Path) -> None:
    # graph writes no state: with no key yet, a secret's digest is a constant (no guessing oracle)
    spec = tmp_path / "aifo.yaml"
    spec.write_text(SPEC)
    hashes = set()
    for token in ("one", "one", "two"):
        env = {
            "AIFO_STATE_DIR": str(tmp_path.parent / f"{tmp_path.name}-state"),
            "PATH": "/usr/bin:/bin",
            "TOKEN": token,
        }
        out = subprocess.run(
            [sys.executable, "-m", "aifo", "graph", str(spec), "-o", "json"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
        hashes.add(next(n["config_hash"] for n in json.loads(out)["nodes"] if n["id"] == "agent/a"))
    assert len(hashes) == 1
    assert not (tmp_path.parent / f"{tmp_path.name}-state").exists()


def test_default_is_a_plain_tree_when_piped(tmp_path: Path, spec_file: Path) -> None:
    proc = run(tmp_path, str(spec_file))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "session demo\n"
        "  agent/a\n"
        "    image/img:1\n"
        "    network/corp (external: corp-net)\n"
        "    network/net\n"
        "    toolchain/rust\n"
        "      image/img:2\n"
        "      network/net\n"
        "  agent/b\n"
        "    image/img:1\n"
        "    toolchain/rust (*)\n"
        "\n"
        "apply order (each layer in parallel; destroy runs it backwards):\n"
        "  1. image/img:1, image/img:2, network/corp, network/net\n"
        "  2. toolchain/rust\n"
        "  3. agent/a, agent/b\n"
    )
    assert "\x1b[" not in proc.stdout


def test_dot_and_mermaid(tmp_path: Path) -> None:
    s = compile_session(resolved(tmp_path, SPEC), context=context())
    dot = render.to_dot(s, edges(s))
    assert dot.startswith('digraph "demo" {') and dot.endswith("}")
    assert '  "agent/a" -> "toolchain/rust";' in dot
    assert '  "network/net" [shape=hexagon];' in dot
    mermaid = render.to_mermaid(s, edges(s)).splitlines()
    assert mermaid[0] == "graph LR" and '  n0["agent/a"]' in mermaid
    ids = {line.split("[")[0].strip(): line for line in mermaid if "[" in line}
    assert len(ids) == len(s.resources)


def test_a_cycle_exits_2_with_the_located_report(tmp_path: Path) -> None:
    spec = tmp_path / "aifo.yaml"
    spec.write_text(
        "version: 1\nsession: demo\nagents:\n"
        "  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n"
    )
    proc = run(tmp_path, str(spec))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(f"{spec}:4:30: dependency cycle: agent/a → agent/b → agent/a\n")


def test_graph_of_an_invalid_spec_exits_2(tmp_path: Path) -> None:
    spec = tmp_path / "aifo.yaml"
    spec.write_text("version: 1\nsession: demo\nagents:\n  a: {image: x, networks: [nope]}\n")
    proc = run(tmp_path, str(spec))
    assert proc.returncode == 2 and "nope" in proc.stderr and "Traceback" not in proc.stderr


PROBE = """
import sys
from aifo.cli import main
try:
    main({args!r})
except SystemExit:
    pass
import aifo.model.graph, aifo.compile, aifo.ui.graph
print("networkx" in sys.modules)
"""


@pytest.mark.parametrize("args", [["--version"], ["graph", "--help"]])
def test_start_up_and_import_never_load_networkx(args: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "False"


def test_layers_alone_need_no_networkx_when_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aifo.pipeline import layers as kept_layers

    monkeypatch.setenv("AIFO_STATE_DIR", str(tmp_path / "state"))
    s = compile_session(resolved(tmp_path, SPEC), context=context())  # writes aifo.yaml
    first = kept_layers(s)
    probe = (
        "import sys\n"
        "from aifo.compile import check_context, compile_session\n"
        "from aifo.sessionspec import resolve\n"
        "from aifo.pipeline import layers\n"
        f"s = compile_session(resolve({str(tmp_path / 'aifo.yaml')!r}), context=check_context())\n"
        "print(layers(s))\n"
        "print('networkx' in sys.modules)\n"
    )
    env = {**os.environ, "AIFO_STATE_DIR": str(tmp_path / "state")}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    ).stdout.splitlines()
    assert out == [str(first), "False"]
