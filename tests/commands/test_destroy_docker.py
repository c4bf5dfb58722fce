"""`aifo destroy` on the real engine: graceful stop in reverse dependency order, then removal;
a container that ignores SIGTERM is killed after --timeout."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.apply.helpers import IMAGE, docker_state, write_spec
from tests.security.helpers import aifo

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]
EMPTY: dict[str, object] = {"containers": {}, "networks": {}, "volumes": []}


def _recorder(name: str, out: Path) -> str:
    """A container that appends its name to /out/order when it gets SIGTERM (not on SIGKILL)."""
    script = f"trap 'echo {name} >> /out/order; exit 0' TERM; sleep 2147483647 & wait"
    return (
        f"image: {IMAGE}\n    pull: never\n    command: [sh, -c, {script!r}]\n"
        f"    mounts: [{{source: {out}, target: /out}}]"
    )


def test_destroy_stops_dependents_first_and_gracefully(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)  # whoever the containers run as may append
    spec = write_spec(
        tmp_path,
        f"""\
version: 1
session: {session_name}
toolchains:
  tool:
    {_recorder("tool", out)}
services:
  db:
    {_recorder("db", out)}
agents:
  bot:
    {_recorder("bot", out)}
    workspace: false
    toolchains: [tool]
    depends_on: [db]
""",
    )
    applied = aifo("apply", str(spec), "--yes")
    assert applied.returncode == 0, applied.stderr
    labels = subprocess.run(
        ["docker", "inspect", "-f", '{{index .Config.Labels "io.aifo.depends-on"}}',
         f"aifo-{session_name}-bot"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert labels == "service/db,toolchain/tool"
    gone = aifo("destroy", str(spec), "--yes")
    assert gone.returncode == 0, gone.stderr
    progress = gone.stderr.splitlines()  # plain lines off a terminal, in order
    assert progress[0].startswith("ok      1 container(s): stop"), gone.stderr
    assert progress[1].startswith("ok      2 container(s): stop"), gone.stderr
    assert f"removed container aifo-{session_name}-bot" in progress, gone.stderr
    order = (out / "order").read_text().split()
    assert sorted(order) == ["bot", "db", "tool"], order  # every one got SIGTERM, none a KILL
    assert order[0] == "bot", order  # the agent before the toolchain and service it uses
    assert docker_state(session_name) == EMPTY


def test_destroy_kills_what_ignores_sigterm_after_the_timeout(
    session_name: str, state_dir: Path, tmp_path: Path
) -> None:
    stubborn = "trap '' TERM; while true; do sleep 1; done"
    spec = write_spec(
        tmp_path,
        f"""\
version: 1
session: {session_name}
services:
  stubborn:
    image: {IMAGE}
    pull: never
    init: false
    command: [sh, -c, {stubborn!r}]
""",
    )
    assert aifo("apply", str(spec), "--yes").returncode == 0
    assert aifo("destroy", str(spec), "--yes", "--timeout", "x").returncode == 2
    start = time.monotonic()
    gone = aifo("destroy", str(spec), "--yes", "--timeout", "1")
    took = time.monotonic() - start
    assert gone.returncode == 0, gone.stderr
    assert 1.0 <= took < 8, took  # waited the second out, then killed (Docker's default is 10)
    assert docker_state(session_name) == EMPTY
