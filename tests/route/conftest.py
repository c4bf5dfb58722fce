"""A routed session for the route tests: busybox agents and a busybox toolchain whose "tools"
are shell scripts in the workspace (busybox's own applets would bypass PATH in a busybox
agent's shell, so test tools have names no applet has)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SECRET = "tok-s3cr3t-4242"
TOOLS = {
    "where": 'echo "$(hostname) $(pwd)"',
    "tcat": 'exec cat "$@"',
    "tboth": 'echo out; echo err >&2; exit "${1:-3}"',
    "targs": "printf '%s\\0' \"$@\"",
    "tenv": "exec env",
    "tsleep": 'exec sleep "$@"',
    "tbg": 'sleep "$1" </dev/null >/dev/null 2>&1 & echo started',
    "tid": "id -u; id -g",
    "tkill": "kill -9 1; kill -TERM 1; kill -9 -1; echo survived",
    "tzero": "exec cat /dev/zero",
    "ttyq": 'if [ -t 0 ] && [ -t 1 ]; then echo "TTY $(stty size)"; else echo NOTTY; fi',
    "tread": 'printf "name? "; read -r x; echo "got:$x"',
    "tfetch": 'exec wget -q -O- "http://$1/"',
    "tblock": textwrap.dedent(
        """\
        touch "/workspace/run/$1"
        ls /workspace/run | wc -l >> /workspace/counts
        while [ ! -e /workspace/release ]; do sleep 0.1; done
        rm "/workspace/run/$1"
        """
    ),
}


@dataclass
class Routed:
    session: str
    spec: Path
    workspace: Path
    env: dict[str, str]

    def aifo(
        self, *argv: str, input: bytes | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "aifo", *argv],
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            env=self.env,
            timeout=timeout,
            cwd=self.workspace,
        )

    def exec(self, agent: str, *argv: str, **kw: object) -> subprocess.CompletedProcess[bytes]:
        return self.aifo("exec", str(self.spec), agent, "--", *argv, **kw)  # type: ignore[arg-type]

    def docker(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *argv], capture_output=True, text=True, timeout=60)

    def container(self, name: str) -> str:
        return f"aifo-{self.session}-{name}"

    def processes(self, name: str) -> str:
        return self.docker("exec", self.container(name), "ps", "-o", "pid,args").stdout


@pytest.fixture(scope="module")
def routed(
    module_session_name: str, tmp_path_factory: pytest.TempPathFactory, busybox_image: str
) -> Iterator[Routed]:
    yield make_routed(module_session_name, tmp_path_factory, busybox_image)


def make_routed(
    module_session_name: str,
    tmp_path_factory: pytest.TempPathFactory,
    busybox_image: str,
    extra_env: dict[str, str] | None = None,
) -> Routed:
    """The routed session, applied (`extra_env`: e.g. the route transport)."""
    workspace = tmp_path_factory.mktemp("ws")
    state = tmp_path_factory.mktemp("state")
    tools = workspace / "tools"
    tools.mkdir()
    for name, body in TOOLS.items():
        path = tools / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    (workspace / "run").mkdir()
    (workspace / "sub").mkdir()
    spec = workspace / "aifo.yaml"
    spec.write_text(
        textwrap.dedent(
            f"""\
            version: 1
            session: {module_session_name}
            toolchains:
              tc:
                image: {busybox_image}
                pull: never
                command: [sleep, "2147483647"]
                env: {{PATH: "/workspace/tools:/bin"}}
                tools: [where, tcat, tboth, targs, tenv, tsleep, tzero, tblock, ttyq, tread, tfetch,
                        tbg, tid, tkill, nosuch]
                pass_env: [FOO]
                security: {{read_only: true}}
              other:
                image: {busybox_image}
                pull: never
                command: [sleep, "2147483647"]
                env: {{PATH: "/workspace/tools:/bin"}}
                tools: [where]
            agents:
              a:
                image: {busybox_image}
                pull: never
                command: [sleep, "2147483647"]
                toolchains: [tc, other]
                routing: {{max_concurrent: 3}}
                security: {{read_only: true}}  # the shim writes only in its route folder
                env:
                  TOKEN: {{value: {SECRET}, secret: true}}
              t:
                image: {busybox_image}
                pull: never
                command: [sleep, "2147483647"]
                toolchains: [tc]
                routing: {{max_runtime: 1s}}
              b:
                image: {busybox_image}
                pull: never
                command: [sleep, "2147483647"]
            """
        )
    )
    env = {**os.environ, "AIFO_STATE_DIR": str(state), **(extra_env or {})}
    env.pop("FOO", None)
    r = Routed(module_session_name, spec, workspace, env)
    done = r.aifo("apply", "--yes", str(spec), timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    return r
