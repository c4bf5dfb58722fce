"""How to get an engine on this machine: the command to start one, or to install one; and the
one message for an engine that cannot be reached (`unreachable`), whoever met it.

Named for the OS aifo runs on (a wheel user has no repository scripts), so a missing engine
is a one-line fix rather than a search.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from aifo.errors import EngineUnavailable


def start_engine() -> str:
    """The command that starts the Docker daemon here."""
    if sys.platform == "darwin":
        return "start Docker Desktop (`open -a Docker`), or `colima start`"
    if sys.platform == "win32":
        return "start Docker Desktop"
    if "/run/user/" in os.environ.get("DOCKER_HOST", ""):
        return "start the rootless daemon: `systemctl --user start docker`"
    if Path("/run/systemd/system").is_dir():
        return "start the Docker daemon: `sudo systemctl start docker`"
    if shutil.which("service"):
        return "start the Docker daemon: `sudo service docker start`"
    return "start the Docker daemon: `sudo dockerd &`"


def install_engine() -> str:
    """The command that installs Docker here."""
    if sys.platform == "darwin":
        return "install Docker Desktop (`brew install --cask docker`) or colima"
    if sys.platform == "win32":
        return "install Docker Desktop"
    if Path("/etc/debian_version").exists():
        return "install Docker: `sudo apt-get install docker.io`"
    if Path("/etc/fedora-release").exists():
        return "install Docker: `sudo dnf install moby-engine`"
    if Path("/etc/arch-release").exists():
        return "install Docker: `sudo pacman -S docker`"
    return "install Docker Engine with your system's package manager"


# `Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?`, and
# `permission denied while trying to connect to the Docker daemon socket at unix:///x.sock: ...`
_AT = re.compile(r"daemon(?: socket)? at (\S+?)(?:\.\s|:\s|\.?$)")


def unreachable(endpoint: str | None, reason: str) -> EngineUnavailable:
    """The one message for an engine aifo cannot reach, whichever command or transport met it:
    where (the endpoint, as DOCKER_HOST spells it), why, and the fix for this machine. Never the
    request that happened to be first (`GET /containers/json`): it is not the user's concern."""
    from aifo.errors import EngineUnavailable

    where = f" at {endpoint}" if endpoint else ""
    return EngineUnavailable(
        f"cannot reach the Docker engine{where}: {reason}", hint=unreachable_hint(reason)
    )


def unreachable_hint(reason: str) -> str:
    if "permission denied" in reason.lower():
        return (
            "your user may not use the engine's socket: join the `docker` group "
            "(`sudo usermod -aG docker $USER`, then log in again), or use rootless Docker"
        )
    return f"{start_engine()}; or point DOCKER_HOST at a running engine"


def socket_reason(exc: OSError) -> str:
    """Why connecting to a unix socket failed, in words (not errno names)."""
    import errno

    words = {
        errno.ENOENT: "no such socket (is the daemon running?)",
        errno.ECONNREFUSED: "nothing accepts connections there (is the daemon running?)",
        errno.EACCES: "permission denied",
    }
    return words.get(exc.errno or 0, (exc.strerror or str(exc)).lower())


def from_cli(stderr: str) -> EngineUnavailable:
    """The docker CLI's 'cannot connect' text as the one message."""
    found = _AT.search(stderr)
    endpoint = found.group(1) if found else None
    text = stderr.lower()
    why = _socket_error(endpoint)
    if why is not None:  # the same words as over the socket (engine.wire)
        reason = socket_reason(why)
    elif "permission denied" in text:
        reason = "permission denied"
    elif "is the docker daemon running" in text or "cannot connect" in text:
        reason = "the daemon does not answer (is it running?)"
    else:
        reason = stderr.strip().splitlines()[-1] if stderr.strip() else "no answer"
    return unreachable(endpoint, reason)


def _socket_error(endpoint: str | None) -> OSError | None:
    """Why a unix socket endpoint refuses a connection (None: not a unix socket, or it answers)."""
    import socket

    if endpoint is None or not endpoint.startswith("unix://"):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(2.0)
        sock.connect(endpoint[len("unix://") :])
    except OSError as exc:
        return exc
    finally:
        sock.close()
    return None
