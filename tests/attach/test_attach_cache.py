"""The attach cache as untrusted input (issue 22 cases 1-2): plain JSON, written through a random
O_EXCL temporary, a malformed or hostile entry a miss (never an error, never code)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aifo.attach import cache as attachcache
from aifo.commands.attaching import load_session

SPEC = "version: 1\nsession: hostile\nagents:\n  a: {image: busybox:latest, workspace: false}\n"


def test_links_at_the_attach_cache_temporary_names_are_never_followed(
    state: Path, tmp_path: Path, victim: Path
) -> None:
    """Before: `.<name>.<pid>.tmp`, opened with O_TRUNC and no O_NOFOLLOW. Plant a link at every
    name that scheme could pick for this process: the victim stays whole, and the files are
    written (a random name, O_EXCL)."""
    (tmp_path / "aifo.yaml").write_text(SPEC)
    folder = Path(attachcache.folder(create=True))
    key = attachcache._key(str(tmp_path / "aifo.yaml"), (), None)
    for name in (f"{key}.hostile.json", f"{key}.hostile.pickle", "targets.hostile.json"):
        (folder / f".{name}.{os.getpid()}.tmp").symlink_to(victim)
    load_session(tmp_path / "aifo.yaml")
    assert victim.read_text() == "precious\n"
    assert attachcache.entry(tmp_path / "aifo.yaml") is not None


@pytest.mark.parametrize(
    "content",
    [
        b"\x80\x04\x95 not json at all",  # a pickle
        b'{"format": 3, "sources": {"/x": "nothex"}, "env": {}, "containers": {}}',
        b'{"format": 3, "sources": {}, "env": {}, "containers": {"a": {"id": 1}}}',
        b"[" * 200000,
    ],
)
def test_a_malformed_attach_cache_entry_is_a_miss(
    state: Path, tmp_path: Path, content: bytes
) -> None:
    spec = tmp_path / "aifo.yaml"
    spec.write_text(SPEC)
    load_session(spec)
    [entry] = Path(attachcache.folder()).glob("*.json")
    entry.write_bytes(content)
    assert attachcache.entry(spec) is None
    assert attachcache.exec_ticket(str(spec), None, "a") is None
