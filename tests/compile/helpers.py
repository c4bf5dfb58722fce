"""Build sessions from inline specs through the real resolver, with a fixed secret key."""

from __future__ import annotations

from pathlib import Path

import yaml

from aifo.compile import CompileContext, compile_session
from aifo.model import EnvVar, Session
from aifo.sessionspec import ResolvedSpec, resolve
from aifo.state.secrets import digest, lookup

KEY = b"k" * 32


def context(environ: dict[str, str] | None = None, **kw: object) -> CompileContext:
    env = environ or {}

    def secret_digest(var: EnvVar) -> str:
        return digest(
            KEY,
            var.key,
            lookup(value=var.value, from_host=var.from_host, from_file=var.from_file, environ=env),
        )

    return CompileContext(uid=1000, gid=1000, secret_digest=secret_digest, **kw)  # type: ignore[arg-type]


def write(tmp: Path, text: str, name: str = "aifo.yaml") -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def resolved(
    tmp: Path, spec: dict[str, object] | str, environ: dict[str, str] | None = None
) -> ResolvedSpec:
    text = spec if isinstance(spec, str) else yaml.safe_dump(spec, sort_keys=False)
    return resolve(write(tmp, text), environ=environ or {"HOME": "/nonexistent-home"})


def session(
    tmp: Path, spec: dict[str, object] | str, environ: dict[str, str] | None = None
) -> Session:
    return compile_session(resolved(tmp, spec, environ), context=context(environ))
