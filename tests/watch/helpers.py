"""Spec files for the watch tests, and atomic-save helpers."""

from __future__ import annotations

import os
from pathlib import Path


def write_spec(
    folder: Path,
    session: str,
    *,
    image: str = "aifo-test/busybox:latest",
    env_a: str = "one",
    extends: tuple[str, ...] = (),
) -> Path:
    """Two idle containers, `a` (with env GREETING) and `b`; no networks."""
    lines = ["version: 1", f"session: {session}"]
    if extends:
        lines.append(f"extends: [{', '.join(extends)}]")
    lines += [
        "agents:",
        "  a:",
        f"    image: {image}",
        "    pull: never",
        '    command: ["sleep", "3600"]',
        "    workspace: false",
        "    env:",
        f"      GREETING: {env_a}",
        "  b:",
        f"    image: {image}",
        "    pull: never",
        '    command: ["sleep", "3600"]',
        "    workspace: false",
        "",
    ]
    spec = folder / "aifo.yaml"
    spec.write_text("\n".join(lines), encoding="utf-8")
    return spec


def atomic_write(path: Path, text: str) -> None:
    """What editors do: write a temporary file beside the target, then rename it over."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
