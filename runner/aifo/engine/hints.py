"""How to get an engine on this machine: the command to start one, or to install one.

Named for the OS aifo runs on (a wheel user has no repository scripts), so a missing engine
is a one-line fix rather than a search.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


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
