"""The CompileContext of this host: who runs aifo, and how secrets are digested (I/O lives here)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from runner.compile import CompileContext
from runner.model import EnvVar
from runner.secrets import current_value, digest, session_key


def host_context(
    session: str, *, environ: Mapping[str, str] | None = None, apparmor: bool = False
) -> CompileContext:
    env = os.environ if environ is None else environ
    key: bytes | None = None

    def secret_digest(var: EnvVar) -> str:
        nonlocal key
        if key is None:
            key = session_key(session)  # created only when the spec has a secret
        return digest(key, var.key, current_value(var, env))

    return CompileContext(
        uid=os.getuid(), gid=os.getgid(), secret_digest=secret_digest, apparmor=apparmor
    )
