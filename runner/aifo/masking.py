"""Masking secret values in text before it is shown, logged or journaled: the one helper.

Structured spec data is masked by its shape instead (aifo.sessionspec.secrets.mask); both write
MASK.
"""

from __future__ import annotations

from collections.abc import Iterable

MASK = "***"


def mask_values(text: str, values: Iterable[str | None], *, min_len: int = 1) -> str:
    """`text` with every value (longest first) replaced by MASK. `min_len` skips values too
    short to mask without garbling the text (for text that may hold non-secret values)."""
    for value in sorted({v for v in values if v and len(v) >= min_len}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text
