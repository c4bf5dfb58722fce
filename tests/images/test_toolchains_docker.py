"""Each catalog toolchain does real work in its sidecar, applied from the catalog profiles by aifo
itself under the secure defaults, as whoever runs the tests (root in CI: the host-user mapping
then maps to uid 0) and as another uid: a hello crate builds and runs offline, npm installs a
small package and pip one into a venv (those two toolchains on a network with egress), go builds,
gcc + make build. The images are `scripts/seed-images`' real stand-ins."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aifo.model import HOLDER_USER
from tests.images.helpers import aifo, applied, need_images

# Real toolchains and registries: ~1 min, more on a busy machine.
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

SPEC = """\
version: 1
session: {session}
extends: [toolchain/rust, toolchain/node, toolchain/python, toolchain/go, toolchain/c-cpp]
networks:
  egress: {{}}
toolchains:
  node: {{networks: [egress]}}
  python: {{networks: [egress]}}
"""

IMAGES = {
    "rust": "rust:1.82.0-slim-bookworm",
    "node": "node:22.11.0-bookworm-slim",
    "python": "python:3.12.7-slim-bookworm",
    "go": "golang:1.23.3-bookworm",
    "c-cpp": "gcc:14.2.0",
}

SOURCES = {
    "hello/Cargo.toml": '[package]\nname = "hello"\nversion = "0.1.0"\nedition = "2021"\n',
    "hello/src/main.rs": 'fn main() {\n    println!("hello from rust");\n}\n',
    "gohello/go.mod": "module gohello\n\ngo 1.19\n",
    "gohello/main.go": 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello go") }\n',
    "chello/hello.c": '#include <stdio.h>\nint main(void) { puts("hello from c"); return 0; }\n',
    "chello/Makefile": "hello: hello.c\n\t$(CC) -o $@ hello.c\n",
    "js/package.json": '{"name": "js", "version": "1.0.0", "private": true}\n',
}


class Session:
    def __init__(self, name: str, spec: Path, state: Path) -> None:
        self.name, self.spec, self.state = name, spec, state

    def exec(self, container: str, *argv: str, timeout: float = 300) -> str:
        proc = aifo("exec", self.spec, container, *argv, state=self.state, timeout=timeout)
        assert proc.returncode == 0, (
            f"{container}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
        return proc.stdout

    def inspect(self, container: str) -> dict[str, Any]:
        out = subprocess.run(
            ["docker", "container", "inspect", f"aifo-{self.name}-{container}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        data: list[dict[str, Any]] = json.loads(out)
        return data[0]


@pytest.fixture(scope="module")
def session(
    module_session_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Session]:
    need_images(*IMAGES.values())
    root = tmp_path_factory.mktemp("toolchains")
    root.chmod(0o755)  # readable by the other uid too (pytest makes it 0700)
    for rel, text in SOURCES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    spec = root / "aifo.yaml"
    spec.write_text(SPEC.format(session=module_session_name))
    state = root.parent / f"{root.name}.state"  # beside the workspace: never mountable
    applied(aifo("apply", spec, "--yes", state=state))
    try:
        yield Session(module_session_name, spec, state)
    finally:
        aifo("destroy", spec, "--yes", "--volumes", state=state)


@pytest.mark.parametrize("toolchain", sorted(IMAGES))
@pytest.mark.slow
def test_each_toolchain_runs_its_catalog_image_under_the_secure_defaults(
    session: Session, toolchain: str
) -> None:
    facts = session.inspect(toolchain)
    host = facts["HostConfig"]
    assert facts["Config"]["Image"] == IMAGES[toolchain]
    # Its own process runs as the holder uid no routed command has (docs/routing.md); execs,
    # routed or not, run as the invoking user (the tests below).
    assert facts["Config"]["User"] == HOLDER_USER
    assert session.exec(toolchain, "--", "id", "-u").strip() == str(os.getuid())
    assert host["CapDrop"] == ["ALL"]
    assert host["ReadonlyRootfs"]  # real work needs only the exec /tmp and HOME tmpfs
    assert "no-new-privileges" in host["SecurityOpt"]
    assert not host["Privileged"]


def test_cargo_builds_and_runs_a_hello_crate_offline(session: Session) -> None:
    # The rust toolchain has no network at all (network mode none).
    assert session.inspect("rust")["HostConfig"]["NetworkMode"] == "none"
    out = session.exec("rust", "-w", "/workspace/hello", "--", "cargo", "run", "--offline")
    assert "hello from rust" in out


def test_cargo_works_as_another_uid_too(session: Session) -> None:
    # Not the invoking user: HOME, the cargo home and its registry cache must still be writable.
    out = session.exec(
        "rust",
        "-u",
        "4321:4321",
        "-e",
        "CARGO_TARGET_DIR=/tmp/other-uid",
        "-w",
        "/workspace/hello",
        "--",
        "cargo",
        "run",
        "--offline",
    )
    assert "hello from rust" in out


def test_go_builds_a_module_and_the_binary_runs_from_tmp(session: Session) -> None:
    out = session.exec(
        "go",
        "-w",
        "/workspace/gohello",
        "--",
        "sh",
        "-c",
        "go build -o /tmp/gohello . && /tmp/gohello",
    )
    assert "hello go" in out


def test_gcc_and_make_build_and_run(session: Session) -> None:
    out = session.exec("c-cpp", "-w", "/workspace/chello", "--", "sh", "-c", "make && ./hello")
    assert "hello from c" in out


@pytest.mark.slow
def test_pip_installs_into_a_venv(session: Session) -> None:
    out = session.exec(
        "python",
        "--",
        "sh",
        "-c",
        "python -m venv /tmp/venv && /tmp/venv/bin/pip install --quiet six"
        " && /tmp/venv/bin/python -c 'import six; print(\"six\", six.__version__)'",
    )
    assert out.startswith("six ")


@pytest.mark.slow
def test_npm_installs_a_small_package(session: Session) -> None:
    out = session.exec(
        "node",
        "-w",
        "/workspace/js",
        "--",
        "sh",
        "-c",
        "npm install --no-audit --no-fund --silent is-number@7"
        " && node -e 'console.log(require(\"is-number\")(7))'",
    )
    assert out.strip().endswith("true")
