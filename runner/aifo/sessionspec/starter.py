"""`aifo init`'s starter spec: toolchains detected from the repository's files (pure)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from aifo.host.indexes import PackageIndex

SCHEMA_COPY = Path(".aifo") / "session.schema.json"

# marker file -> the toolchain profile it calls for (first match per toolchain wins)
MARKERS: tuple[tuple[str, str], ...] = (
    ("Cargo.toml", "rust"),
    ("package.json", "node"),
    ("pyproject.toml", "python"),
    ("requirements.txt", "python"),
    ("setup.py", "python"),
    ("go.mod", "go"),
    ("CMakeLists.txt", "c-cpp"),
    ("Makefile", "c-cpp"),
)


def detect(folder: Path) -> list[tuple[str, str]]:
    """(toolchain, the file that called for it), in MARKERS order, one per toolchain."""
    found: dict[str, str] = {}
    for marker, toolchain in MARKERS:
        if toolchain not in found and (folder / marker).is_file():
            found[toolchain] = marker
    return list(found.items())


def session_name(folder: Path) -> str:
    """The folder's name as a session name (lowercase, digits, '-'; at most 40)."""
    name = re.sub(r"[^a-z0-9]+", "-", folder.name.lower()).strip("-")[:40].strip("-")
    return name or "my-project"


# the package tool of each toolchain profile that installs packages (for the comments)
PACKAGE_TOOLS = {"python": "pip", "node": "npm", "go": "go", "rust": "cargo"}


def egress_block(toolchain: str, index: PackageIndex | None) -> list[str]:
    """The commented-out block that lets `toolchain`'s package installs through the egress
    proxy: one line on what it opens, then `egress:` (and the env pointing the tool at that
    same index), each line valid YAML once its `# ` is removed."""
    tool = PACKAGE_TOOLS.get(toolchain)
    if tool is None:
        return []
    if index is None:
        return [
            f"    # Package installs ({tool}) need egress: no {tool} on this host said which "
            "index it uses;",
            "    # add `egress: {allow: [YOUR-INDEX-HOST:443]}` here (docs/egress.md).",
        ]
    hosts = ", ".join(index.allow)
    out = [
        f"    # For {tool} installs, uncomment: opens {hosts} via the egress proxy, audited "
        f"({index.source}).",
        "    # egress:",
        f"    #   allow: [{hosts}]",
    ]
    if index.env:
        out.append("    # env:")
        out += [f"    #   {key}: {json.dumps(value)}" for key, value in index.env]
    return out


def render(
    session: str,
    toolchains: Iterable[tuple[str, str]],
    agent: str | None,
    indexes: Mapping[str, PackageIndex | None] | None = None,
) -> str:
    """The starter spec; `indexes`: each toolchain's package index on this host (aifo init asks
    the host's tools), written as a commented-out egress block."""
    tools = list(toolchains)
    extends = [(f"agent/{agent}", f"--agent {agent}")] if agent else []
    extends += [(f"toolchain/{t}", f"found {marker}") for t, marker in tools]
    names = [t for t, _ in tools]
    out = [
        f"# yaml-language-server: $schema=./{SCHEMA_COPY.as_posix()}",
        "# The aifo session of this repository, written by `aifo init`: edit freely.",
        "#   aifo validate        # check it (every error as FILE:LINE:COL)",
        "#   aifo plan            # what apply would do",
        "#   aifo apply           # start it; `aifo destroy` removes it",
        "# `aifo profiles` lists the agents and toolchains `extends:` can name.",
        "version: 1",
        f"session: {session}",
    ]
    if extends:
        out.append("extends:")
        out += [f"  - {name:<26}# {why}" for name, why in extends]
    out += [
        "",
        "networks:",
        "  sandbox:",
        "    internal: true              # no route out; add `egress: {}` and list it to allow one",
    ]
    if agent:
        out += ["", "agents:", f"  {agent}:", "    networks: [sandbox]"]
        if names:
            out.append(f"    toolchains: [{', '.join(names)}]   # its tools run in these sidecars")
    else:
        out += [
            "",
            "# agents:                  # add one: extend agent/codex (say) and declare it:",
            "#   codex:",
            "#     networks: [sandbox]",
        ]
        if names:
            out.append(f"#     toolchains: [{', '.join(names)}]")
    if names:
        out += ["", "toolchains:"]
        for name in names:
            out += [f"  {name}:", "    networks: [sandbox]"]
            if indexes is not None:
                out += egress_block(name, indexes.get(name))
    return "\n".join(out) + "\n"
