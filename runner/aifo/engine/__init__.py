"""The Docker adapter. `DockerEngine` is exported lazily: importing `aifo.engine` (or its
`api`) must stay cheap, so nothing here imports the client (or python-on-whales) up front."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: `aifo exec`'s fast path does not load typing (mypy knows)
if TYPE_CHECKING:
    from typing import Any

    from aifo.engine.client import DockerEngine

__all__ = ["DockerEngine"]


def __getattr__(name: str) -> Any:
    if name == "DockerEngine":
        from aifo.engine.client import DockerEngine

        return DockerEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
