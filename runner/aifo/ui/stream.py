"""Raw output: bytes from containers (logs) to our stdout, as they come."""

from __future__ import annotations

import sys


def write_bytes(data: bytes) -> None:
    """Write to stdout's binary buffer (text streams without one get decoded text), flushed."""
    out = sys.stdout
    buffer = getattr(out, "buffer", None)
    if buffer is not None:
        out.flush()
        buffer.write(data)
        buffer.flush()
    else:
        out.write(data.decode(errors="replace"))
        out.flush()
