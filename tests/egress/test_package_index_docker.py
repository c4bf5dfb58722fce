"""A fresh `aifo init` session installs packages once its egress block is uncommented (issue 23):
init a python+node project, uncomment what it wrote, apply, and a routed `pip install` and
`npm install` succeed through the egress proxy, allowlisted and audited. The index hosts are
read at test time from this host's own tools, as aifo init reads them; none is written here.

This test needs the package registries this host's tools name to be reachable (they are on the
development machine; it is `slow`, like the other tests that build or fetch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import TEST_IMAGE

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]

PIP_BUILTIN = "from pip._internal.models.index import PyPI as p; print(p.simple_url)"


def _host_tool(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        pytest.fail(f"this host's {argv[0]} did not answer: {done.stderr}")
    return done.stdout.strip()


def _index_hosts() -> dict[str, str]:
    """toolchain -> `HOST:443` of the index this host's own tool uses."""
    python = "python3"
    config = _host_tool(python, "-m", "pip", "config", "list")
    configured = [
        line.split("=", 1)[1].strip("'\"")
        for line in config.splitlines()
        if line.split("=", 1)[0].endswith(".index-url")
    ]
    pip_url = configured[0] if configured else _host_tool(python, "-c", PIP_BUILTIN)
    npm_url = _host_tool("npm", "config", "get", "registry")
    return {t: f"{urlsplit(u).hostname}:443" for t, u in (("python", pip_url), ("node", npm_url))}


def _uncomment(text: str) -> str:
    """What a user does: remove `# ` from the block under each "uncomment" line."""
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        if "installs, uncomment" in line:
            inside = True
            out.append(line)
            continue
        if inside and line.startswith("    # "):
            out.append("    " + line[len("    # ") :])
            continue
        inside = False
        out.append(line)
    return "\n".join(out) + "\n"


def test_uncommented_package_index_blocks_let_pip_and_npm_install(
    session_name: str, tmp_path: Path
) -> None:
    project = tmp_path / session_name
    project.mkdir()
    (project / "requirements.txt").write_text("")
    (project / "package.json").write_text("{}\n")
    env = {**os.environ, "AIFO_STATE_DIR": str(tmp_path / "state")}

    def aifo(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "aifo", *argv],
            capture_output=True, text=True, timeout=timeout, cwd=project, env=env,
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip

    assert aifo("init").returncode == 0
    spec = project / "aifo.yaml"
    written = spec.read_text()
    hosts = _index_hosts()
    for toolchain, host in hosts.items():
        assert f"opens {host}" in written, (toolchain, host, written)
    assert "\n    egress:" not in written  # commented out until the user says so
    spec.write_text(
        _uncomment(written)
        + f"""
agents:
  dev:
    image: {TEST_IMAGE}
    pull: never
    command: [sleep, "2147483647"]
    networks: [sandbox]
    toolchains: [node, python]
"""
    )
    try:
        applied = aifo("apply", "--yes")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        pip = aifo("exec", "dev", "--", "pip", "install", "--no-deps", "--target", "/tmp/pk", "six")
        assert pip.returncode == 0 and "Successfully installed six" in pip.stdout, pip.stderr
        npm = aifo("exec", "dev", "--", "npm", "install", "--no-save", "--prefix", "/tmp/nm",
                   "is-number")  # fmt: skip
        assert npm.returncode == 0 and "added 1 package" in npm.stdout, npm.stderr
        # npm's single tunnel could once be logged unnamed (squid's name cache outlived by it:
        # 1 of 3 CI runs); aifo now names clients from the engine (docs/egress.md, "Naming the
        # client"), so this second install is redundant: kept until a run without it is seen.
        again = aifo("exec", "dev", "--", "npm", "install", "--no-save", "--prefix", "/tmp/nm2",
                     "is-number")  # fmt: skip
        assert again.returncode == 0, again.stderr
        # allowlisted and audited: the proxy's decisions, per toolchain, for those index hosts
        wanted = {("python", hosts["python"]), ("node", hosts["node"])}
        seen: set[tuple[str, str]] = set()
        deadline = time.monotonic() + 60
        while not wanted <= seen and time.monotonic() < deadline:
            records: list[dict[str, Any]] = json.loads(
                aifo("audit", "--kind", "egress", "-o", "json").stdout or "[]"
            )
            seen = {(r["client"], r["target"]) for r in records if r["decision"] == "allowed"}
            time.sleep(1)
        assert wanted <= seen, seen
    finally:
        aifo("destroy", "--yes", "--volumes")
