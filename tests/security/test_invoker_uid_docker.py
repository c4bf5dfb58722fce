"""The default user is whoever runs aifo, not root: applied and exec'd by an unprivileged uid.

When the tests run as root, "the invoking uid" is 0, which the image's default user is too; so
here aifo itself runs as uid 4321 (in the docker socket's group) and the file its container
writes into the workspace must belong to 4321 on the host. As a normal user the tests already
are that case, and aifo runs as them.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.helpers import IDLE, IMAGE, aifo, inspect

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]
INVOKER = 4321
SOCKET = Path("/var/run/docker.sock")

SPEC = f"""\
version: 1
session: {{session}}
workspace: {{{{path: ./ws}}}}
agents:
  dev:
    image: {IMAGE}
    pull: never
    command: {IDLE}
"""


def _invoker_prefix() -> tuple[str, ...]:
    """The command prefix that runs aifo as INVOKER when we are root (setpriv, in the docker
    socket's group); empty when we aren't root: then we are the unprivileged invoker."""
    if os.getuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None or os.environ.get("DOCKER_HOST") or not SOCKET.is_socket():
        pytest.skip("running aifo as another uid needs setpriv and the local docker socket")
    prefix = (
        setpriv, f"--reuid={INVOKER}", f"--regid={INVOKER}", f"--groups={SOCKET.stat().st_gid}",
    )  # fmt: skip
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", "import aifo"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"uid {INVOKER} cannot run {sys.executable} (e.g. a venv under /root)")
    return prefix


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder the invoker may use (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="aifo-invoker-"))
    path.chmod(0o755)
    if os.getuid() == 0:
        os.chown(path, INVOKER, INVOKER)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_default_user_is_the_invoker(
    session_name: str, shared_dir: Path, busybox_image: str
) -> None:
    prefix = _invoker_prefix()
    uid, gid = (INVOKER, INVOKER) if prefix else (os.getuid(), os.getgid())
    spec = shared_dir / "aifo.yaml"
    spec.write_text(SPEC.format(session=session_name))
    workspace = shared_dir / "ws"
    workspace.mkdir()
    workspace.chmod(0o777)  # whoever the invoker is
    # HOME apart: a workspace that is (or contains) the home folder is refused.
    env = {"AIFO_STATE_DIR": str(shared_dir / "state"), "HOME": str(shared_dir / "home")}

    def run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
        return aifo(*argv, env=env, cwd=shared_dir, prefix=prefix)

    done = run("apply", spec)
    assert done.returncode == 0, done.stdout + done.stderr
    try:
        assert inspect(f"aifo-{session_name}-dev")["Config"]["User"] == f"{uid}:{gid}"
        made = run("exec", spec, "dev", "--", "sh", "-c", "id -u; touch by-default-user")
        assert made.returncode == 0, made.stderr
        assert made.stdout.split() == [str(uid)]
        info = (workspace / "by-default-user").stat()
        assert (info.st_uid, info.st_gid) == (uid, gid)
        state = (shared_dir / "state" / "sessions" / session_name).stat()
        assert state.st_uid == uid and stat.S_IMODE(state.st_mode) == 0o700
    finally:
        gone = run("destroy", spec, "--yes")
        assert gone.returncode == 0, gone.stderr
