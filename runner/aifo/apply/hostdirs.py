"""Host folders that bind mounts declare with `create: true`, made just before their container.

Docker's `--mount type=bind` refuses a missing source, and validation accepted it because of
`create: true` (e.g. an agent's config folder for a user who never ran the agent). They are made
by the user running aifo, private (0700, they often end up holding credentials), and stay when
an apply is rolled back: an empty folder changes nothing in Docker.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from aifo.errors import AifoError


def make_host_dirs(paths: Iterable[str]) -> None:
    for path in paths:
        try:
            Path(path).mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise AifoError(
                f"cannot create the bind source {path}: {exc.strerror or exc}",
                hint="create it yourself, or fix the permissions of its parent folder",
            ) from exc
