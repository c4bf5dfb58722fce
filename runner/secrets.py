"""Secret values: a per-session key, keyed digests for hashing, and reading values at apply time.

A secret's value never leaves this module except to the engine's exec environment. Hashes and
labels see only `hmac-sha256:<hex>` under a random per-session key kept in the state directory
(0600), so a label neither reveals a secret nor lets anyone confirm a guess without that key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets as _random
from collections.abc import Mapping
from pathlib import Path

from runner.errors import AifoError
from runner.model import EnvVar

UNSET = "unset"  # digest of an optional secret whose source is absent


class SecretMissing(AifoError):
    """A required secret has no value. Set the variable or create the file, then retry."""


def session_key(session: str) -> bytes:
    """The session's digest key, created (0600) on first use."""
    from runner.state import session_dir

    path = session_dir(session) / "secret.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    key = _random.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return key


def digest(key: bytes, name: str, value: str | None) -> str:
    if value is None:
        return UNSET
    mac = hmac.new(key, f"{name}\0{value}".encode(), hashlib.sha256)
    return f"hmac-sha256:{mac.hexdigest()}"


def lookup(
    *,
    value: str | None = None,
    from_host: str | None = None,
    from_file: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """The secret's current value, or None when its source is absent."""
    if value is not None:
        return value
    if from_host is not None:
        return (os.environ if environ is None else environ).get(from_host)
    if from_file is not None:
        try:
            return Path(from_file).read_text(encoding="utf-8").rstrip("\n")
        except OSError:
            return None
    return None


def read_secret(
    env: EnvVar, environ: Mapping[str, str] | None = None, *, required: bool = False
) -> str | None:
    """Fetch a secret's value at apply/exec time; the error never contains a value."""
    found = lookup(
        value=env.value, from_host=env.from_host, from_file=env.from_file, environ=environ
    )
    if found is None and required:
        source = (
            f"host variable ${env.from_host}" if env.from_host else f"file {env.from_file}"
        )
        raise SecretMissing(f"secret {env.key} has no value: {source} is not set")
    return found
