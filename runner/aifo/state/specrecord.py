"""Which spec a session was last applied from: `<state>/sessions/<s>/spec` (`aifo ls` shows it).

One line, the spec's absolute path. Written atomically and read without following links
(aifo.state.private); a record that is not a plain, short, one-line path is not shown.
"""

from __future__ import annotations

import os
from pathlib import Path

from aifo.errors import StateError
from aifo.state.folder import session_dir
from aifo.state.private import read_bytes, write_atomic

SPEC_RECORD = "spec"
CAP = 8192  # bytes: far above any path


def record_spec_path(session: str, spec_file: str | Path) -> None:
    path = session_dir(session) / SPEC_RECORD
    try:
        write_atomic(path, (os.path.abspath(spec_file) + "\n").encode())
    except OSError as exc:
        raise StateError(f"cannot write {path}: {exc}") from exc


def read_spec_path(session: str) -> str | None:
    try:
        data = read_bytes(session_dir(session, create=False) / SPEC_RECORD, CAP)
        text = (data or b"").decode("utf-8").strip()
    except (OSError, UnicodeDecodeError, StateError):  # Unsafe is an OSError: not shown
        return None
    if not text or "\n" in text or not os.path.isabs(text) or not text.isprintable():
        return None
    return text
