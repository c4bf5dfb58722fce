"""`cargo` routed from a busybox agent to the real rust toolchain (the offline stand-in)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]

RUST_IMAGE = "rust:1.82.0-slim-bookworm"
MAIN = """\
use std::io::Read;
fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    println!("rust read {} bytes: {}", input.len(), input.trim().to_uppercase());
    eprintln!("to stderr");
}
"""


@pytest.fixture(scope="module")
def crate(
    module_session_name: str, tmp_path_factory: pytest.TempPathFactory, busybox_image: str
) -> Iterator[tuple[Path, dict[str, str]]]:
    if subprocess.run(["docker", "image", "inspect", RUST_IMAGE], capture_output=True).returncode:
        pytest.fail(f"{RUST_IMAGE} is missing: run scripts/seed-images")
    ws = tmp_path_factory.mktemp("ws")
    for name in ("hello", "broken"):
        (ws / name / "src").mkdir(parents=True)
        (ws / name / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n'
        )
    (ws / "hello" / "src" / "main.rs").write_text(MAIN)
    (ws / "broken" / "src" / "main.rs").write_text("fn main() { let x: u8 = ; }\n")
    spec = ws / "aifo.yaml"
    spec.write_text(
        textwrap.dedent(
            f"""\
            version: 1
            session: {module_session_name}
            extends: [toolchain/rust]
            toolchains:
              rust: {{pull: never, version: 1.82.0}}
            agents:
              a:
                image: {busybox_image}
                pull: never
                command: [sleep, "2147483647"]
                toolchains: [rust]
            """
        )
    )
    env = {**os.environ, "AIFO_STATE_DIR": str(tmp_path_factory.mktemp("state"))}
    done = _aifo(env, "apply", "--yes", str(spec), timeout=600)
    assert done.returncode == 0, done.stderr
    yield spec, env


def _aifo(
    env: dict[str, str], *argv: str, input: bytes | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "aifo", *argv],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        env=env,
        timeout=timeout,
    )


def test_cargo_run_with_stdin_piped(crate: tuple[Path, dict[str, str]]) -> None:
    spec, env = crate
    cmd = [
        "exec",
        str(spec),
        "a",
        "-w",
        "/workspace/hello",
        "--",
        "cargo",
        "run",
        "-q",
        "--offline",
    ]
    done = _aifo(env, *cmd, input=b"piped in\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"rust read 9 bytes: PIPED IN\n"
    assert b"to stderr" in done.stderr and b"to stderr" not in done.stdout


def test_a_failing_build_returns_cargos_exit_code(crate: tuple[Path, dict[str, str]]) -> None:
    spec, env = crate
    cmd = ["exec", str(spec), "a", "-w", "/workspace/broken", "--", "cargo", "build", "--offline"]
    done = _aifo(env, *cmd)
    assert done.returncode == 101
    assert b"error" in done.stderr and done.stdout == b""
