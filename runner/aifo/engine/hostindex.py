"""Asks this host's own package tools which index they use (for `aifo init`'s egress blocks).

Each tool runs once, briefly, without a shell; a tool that is missing, slow or failing gives no
answer (aifo init then says so in the block). The answers are read by aifo.host.indexes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from aifo.host.files import read_bounded
from aifo.host.indexes import PackageIndex, cargo_index, go_index, npm_index, pip_index

TIMEOUT_S = 10.0
# pip's own default index and the host its files are served from, read from the host's pip
_PIP_BUILTIN = (
    "import json, os; from pip._internal.models.index import PyPI as p; "
    "os.write(1, json.dumps([p.simple_url, p.file_storage_domain]).encode())"
)


def _output(argv: Sequence[str]) -> str | None:
    """stdout of `argv`, or None (missing, failing or slow)."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _python() -> str:
    """The host's python for pip: `python3` on PATH (the user's), else aifo's own."""
    return shutil.which("python3") or sys.executable


def pip() -> PackageIndex | None:
    python = _python()
    config = _output([python, "-m", "pip", "config", "list"]) or ""
    try:
        url, files = json.loads(_output([python, "-c", _PIP_BUILTIN]) or "null")
        builtin = (str(url), str(files))
    except (ValueError, TypeError):  # no pip, or one without that module: no built-in answer
        builtin = None
    return pip_index(config, builtin)


def npm() -> PackageIndex | None:
    registry = _output(["npm", "config", "get", "registry"])
    return npm_index(registry) if registry else None


def go() -> PackageIndex | None:
    found = _output(["go", "env", "GOPROXY", "GOSUMDB"])
    if not found:
        return None
    lines = found.splitlines() + ["", ""]
    return go_index(lines[0], lines[1])


def cargo() -> PackageIndex | None:
    home = Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")
    for name in ("config.toml", "config"):
        try:
            return cargo_index(read_bounded(home / name, 1 << 20).decode("utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
    return None


# toolchain profile -> the question for its package tool
BY_TOOLCHAIN = {"python": pip, "node": npm, "go": go, "rust": cargo}


def package_indexes(toolchains: Sequence[str]) -> dict[str, PackageIndex | None]:
    """For each toolchain that installs packages: its tool's index on this host (None: not
    found). Toolchains without a package tool (c-cpp) are left out."""
    return {t: BY_TOOLCHAIN[t]() for t in toolchains if t in BY_TOOLCHAIN}
