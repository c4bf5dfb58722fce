"""Routing's pure parts: the route table, compile's mount, requests, cwd mapping, the shim's
stub, the stderr head, the route folder's symlink safety. No engine."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from aifo.errors import SpecError
from aifo.model import HOLDER_USER, Container
from aifo.route import folder as F
from aifo.route import shim
from aifo.route.layout import ROUTE_TARGET
from aifo.route.pump import ErrHead
from aifo.route.request import RequestError, map_cwd, open_request, parse
from aifo.route.sidecar import route_folder
from tests.compile.helpers import resolved, session

SPEC = """\
version: 1
session: s
toolchains:
  rust: {image: "r:1", tools: [cargo, rustc, cc], pass_env: [RUST_LOG]}
  cpp: {image: "c:1", tools: [cc, make]}
agents:
  a: {image: "a:1", toolchains: [cpp, rust], routing: {max_concurrent: 2, max_runtime: 90s}}
  b: {image: "a:1", toolchains: [rust, cpp]}
  c: {image: "a:1"}
"""


def _agent(tmp_path: Path, text: str, name: str) -> Container:
    found = session(tmp_path, text).resources[f"agent/{name}"]
    assert isinstance(found, Container)
    return found


def test_the_agents_toolchain_order_decides_a_shared_tool(tmp_path: Path) -> None:
    a, b = _agent(tmp_path, SPEC, "a"), _agent(tmp_path, SPEC, "b")
    assert dict(a.routes)["cc"] == "toolchain/cpp" and dict(b.routes)["cc"] == "toolchain/rust"
    assert dict(a.routes)["cargo"] == "toolchain/rust" and dict(a.routes)["make"] == "toolchain/cpp"
    assert (a.route_limit, a.route_timeout_s) == (2, 90.0)


def test_only_routing_agents_get_the_private_route_mount(tmp_path: Path) -> None:
    a, c = _agent(tmp_path, SPEC, "a"), _agent(tmp_path, SPEC, "c")
    path = route_folder(a)
    assert path is not None and path.name == "a" and str(path) in a.host_dirs
    assert route_folder(c) is None and not c.routes
    assert all(m.target != ROUTE_TARGET for m in c.mounts)
    rust = session(tmp_path, SPEC).resources["toolchain/rust"]
    assert isinstance(rust, Container) and rust.pass_env == ("RUST_LOG",)
    assert all(m.target != ROUTE_TARGET for m in rust.mounts)


def test_routing_changes_no_hash_but_the_mount(tmp_path: Path) -> None:
    plain = SPEC.replace(", tools: [cargo, rustc, cc], pass_env: [RUST_LOG]", "").replace(
        ", tools: [cc, make]", ""
    )
    assert _agent(tmp_path, plain, "c").config_hash == _agent(tmp_path, SPEC, "c").config_hash
    assert _agent(tmp_path, plain, "a").config_hash != _agent(tmp_path, SPEC, "a").config_hash


def test_a_routed_toolchain_runs_its_own_process_as_the_holder(tmp_path: Path) -> None:
    plain = SPEC.replace(", tools: [cc, make]", "")
    cpp = session(tmp_path, SPEC).resources["toolchain/cpp"]
    bare = session(tmp_path, plain).resources["toolchain/cpp"]
    agent = _agent(tmp_path, SPEC, "a")
    assert isinstance(cpp, Container) and isinstance(bare, Container)
    assert cpp.process_user == HOLDER_USER != cpp.user  # execs, routed or not, run as `user`
    assert bare.process_user == bare.user and agent.process_user == agent.user
    assert cpp.config_hash != bare.config_hash  # recreated when it starts serving routes


def test_a_spec_adds_and_removes_profile_tools_with_a_mapping(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "toolchains:\n  rust: {image: 'r:1', tools: [cargo, rustc]}\n"
    )
    text = (
        "version: 1\nsession: s\nextends: [./base.yaml]\n"
        "toolchains:\n  rust: {tools: {rustc: false, clippy-driver: true}}\n"
        "agents:\n  a: {image: 'a:1', toolchains: [rust]}\n"
    )
    assert [t for t, _ in _agent(tmp_path, text, "a").routes] == ["cargo", "clippy-driver"]
    replaced = text.replace("{rustc: false, clippy-driver: true}", "[rustfmt]")
    assert [t for t, _ in _agent(tmp_path, replaced, "a").routes] == ["rustfmt"]


@pytest.mark.parametrize(
    ("fragment", "message"),
    [
        ("agents:\n  a: {image: 'a:1', tools: [x]}\n", "only toolchains may declare tools"),
        (
            "services:\n  s1: {image: 'a:1', pass_env: [X]}\n",
            "only toolchains may declare pass_env",
        ),
        ("toolchains:\n  t: {image: 'a:1', routing: {max_concurrent: 2}}\n", "only agents route"),
        ("toolchains:\n  t: {image: 'a:1', tools: ['../x']}\n", "tools"),
        ("agents:\n  a: {image: 'a:1', routing: {max_concurrent: 0}}\n", "max_concurrent"),
    ],
)
def test_misplaced_or_bad_routing_keys_are_located_errors(
    tmp_path: Path, fragment: str, message: str
) -> None:
    with pytest.raises(SpecError) as info:
        resolved(tmp_path, f"version: 1\nsession: s\n{fragment}")
    assert message in str(info.value) and "aifo.yaml:" in str(info.value)


def test_parse_keeps_argv_exact_and_only_allowed_variables() -> None:
    data = (
        b"/workspace/x\x00\x003\x00cargo\x00a b\x00\x00line\nbreak\x00RUST_LOG=debug\x00TOKEN=s\x00"
    )
    req = parse(data, {"RUST_LOG"})
    assert req.argv == ("cargo", "a b", "", "line\nbreak")
    assert req.cwd == "/workspace/x" and req.env == {"RUST_LOG": "debug"} and req.tty is None
    assert parse(b"/w\x0040 120\x000\x00t\x00", ()).tty == (40, 120)
    assert parse(b"/w\x0040 0\x000\x00t\x00", ()).tty is None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"no-nul",
        b"/w\x00x\x00t\x00",
        b"/w\x005\x00t\x00",
        b"/w\x00" + b"1" * (1 << 21) + b"\x00",
    ],
)
def test_malformed_requests_are_refused(data: bytes) -> None:
    with pytest.raises(RequestError):
        parse(data, ())


def test_cwd_maps_through_the_shared_folders_or_is_refused() -> None:
    shared = [("/workspace", "/src"), ("/workspace/vendor", "/vendor")]
    assert map_cwd("/workspace", shared, "/workspace", "t") == "/src"
    assert map_cwd("/workspace/a/b", shared, "/workspace", "t") == "/src/a/b"
    assert map_cwd("/workspace/vendor/x", shared, "/workspace", "t") == "/vendor/x"
    for bad in ("/etc", "/workspace2", "relative", "/workspace/../etc", "/workspace/a/"):
        with pytest.raises(RequestError):
            map_cwd(bad, shared, "/workspace", "t")
    with pytest.raises(RequestError, match="outside the workspace /workspace"):
        map_cwd("/tmp", shared, "/workspace", "toolchain t")


def test_the_stub_refuses_odd_variable_names_and_runs_in_posix_sh(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        shim.stub("cargo", "toolchain/rust", ["A;rm -rf /"])
    text = shim.stub("cargo", "toolchain/rust", ["RUST_LOG", "UNSET_ONE"])
    script = text.replace(f". {ROUTE_TARGET}/shim", "aifo_env")
    out = subprocess.run(
        ["sh", "-c", script], capture_output=True, env={"RUST_LOG": "a b=c", "PATH": "/bin"}
    ).stdout
    assert out == b"RUST_LOG=a b=c\x00"
    assert subprocess.run(["sh", "-n", "-c", shim.SHIM]).returncode == 0


def test_err_head_holds_only_what_may_be_a_mark() -> None:
    head = ErrHead((shim.MISSING, b"Error response from daemon: "))
    assert head.feed(b"warning: x") == b"warning: x"
    head = ErrHead((shim.MISSING,))
    assert head.feed(shim.MISSING[:5]) == b"" and head.feed(shim.MISSING[5:]) == b""
    assert head.matched == shim.MISSING
    head = ErrHead((shim.MISSING,))
    assert head.feed(b"aif") == b"" and head.feed(b"x") == b"aifx"


def test_the_route_folder_never_follows_the_agents_symlinks(tmp_path: Path) -> None:
    route, private, outside = tmp_path / "a", tmp_path / ".a.host", tmp_path / "outside"
    outside.mkdir()
    folder = F.prepare(route, private, {"cargo": ("toolchain/rust", ["RUST_LOG"])})
    assert (route / "bin" / "cargo").read_text().startswith("#!/bin/sh")
    assert oct(route.stat().st_mode & 0o777) == "0o700"
    # The agent swaps bin/ for a symlink out of the folder: prepare replaces it, writes inside.
    (route / "bin" / "cargo").unlink()
    (route / "bin").rmdir()
    (route / "bin").symlink_to(outside)
    F.prepare(route, private, {"cargo": ("toolchain/rust", [])})
    assert list(outside.iterdir()) == [] and (route / "bin").is_dir()
    # A request folder that is a symlink, or a `req` that is one, is refused.
    req = os.open(route / "req", F.DIR_FLAGS)
    try:
        (route / "req" / "1.0").symlink_to(outside)
        with pytest.raises(RequestError):
            open_request(req, "1.0")
        (route / "req" / "2.0").mkdir()
        (route / "req" / "2.0" / "req").symlink_to("/etc/passwd")
        with pytest.raises(RequestError):
            open_request(req, "2.0")
        with pytest.raises(RequestError):
            open_request(req, "../../outside")
    finally:
        os.close(req)
    assert F.open_ctl(folder) > 0


def test_config_explain_and_graph_show_each_tools_route(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from aifo.cli import main

    monkeypatch.setenv("AIFO_STATE_DIR", str(tmp_path.parent / f"{tmp_path.name}-state"))
    spec = tmp_path / "aifo.yaml"
    spec.write_text(SPEC)
    with pytest.raises(SystemExit):
        main(["config", "--explain", str(spec)])
    out = capsys.readouterr().out
    assert "#   a: cargo, rustc -> rust; cc, make -> cpp" in out  # cpp is a's first
    assert "#   b: cargo, cc, rustc -> rust; make -> cpp" in out
    with pytest.raises(SystemExit):
        main(["config", "--explain", "-o", "json", str(spec)])
    assert json.loads(capsys.readouterr().out)["routes"]["a"]["cc"] == "cpp"
    with pytest.raises(SystemExit):
        main(["graph", "-o", "json", str(spec)])
    routes = json.loads(capsys.readouterr().out)["routes"]
    assert routes["agent/b"]["cc"] == "toolchain/rust" and "agent/c" not in routes
    with pytest.raises(SystemExit):
        main(["graph", str(spec)])
    assert "agent/a: cargo, rustc -> rust; cc, make -> cpp" in capsys.readouterr().out
