"""Host facts compile needs, as plain values: who runs aifo, how secrets and build contexts are
digested. `host_context` reads this host (I/O lives here, not in compile); tests build their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aifo.host.buildcontext import context_hash
from aifo.host.cas import bundle_hash, find_bundle
from aifo.model import EnvVar

SecretDigest = Callable[[EnvVar], str]


@dataclass(frozen=True)
class CompileContext:
    """The host facts compile reads, as values."""

    uid: int
    gid: int
    secret_digest: SecretDigest  # EnvVar (no value) -> keyed digest of its current value
    apparmor: bool = False  # the engine reports AppArmor: confine containers by default
    build_hash: Callable[[str, str | None], str] = context_hash  # (context, dockerfile) -> hash
    route_root: str = "/nonexistent/aifo/route"  # host folder holding each agent's route folder
    # True: agents get their route folder as a tmpfs the router reaches by exec (the engine's
    # containers may run on other machines); asked only when an agent routes tools
    route_exec: Callable[[], bool] = lambda: False
    # trust_host_cas: this host's CA bundle as (path, sha256), or None when it has none
    ca_bundle: Callable[[], tuple[str, str] | None] = lambda: None
    # host binds reach the containers (their engine runs on this machine); False on a Swarm
    # node elsewhere: the workspace becomes a seeded volume, other binds are refused
    binds_reach: bool = True


def host_context(
    session: str,
    *,
    environ: Mapping[str, str] | None = None,
    apparmor: bool = False,
    writes_state: bool = True,
    binds_reach: bool = True,
) -> CompileContext:
    """This host's uid/gid; secrets digested under the session's key (created on first use by
    commands that write state, `writes_state`). The route transport: `AIFO_ROUTE_TRANSPORT`
    (`exec` or `bind`) when set, else exec when host binds do not reach the containers."""
    from aifo.state.secrets import current_value, digest, session_key

    env = os.environ if environ is None else environ
    key: bytes | None = None

    def secret_digest(var: EnvVar) -> str:
        nonlocal key
        if key is None:
            key = session_key(session, create=writes_state)  # only when the spec has a secret
        return digest(key, var.key, current_value(var, env))

    from aifo.state.folder import route_root

    def ca_bundle() -> tuple[str, str] | None:
        path = find_bundle(env)
        return (path, bundle_hash(path)) if path else None

    def route_exec() -> bool:
        from aifo.route.layout import route_transport

        return route_transport(env, lambda: binds_reach) == "exec"

    return CompileContext(
        uid=os.getuid(),
        gid=os.getgid(),
        secret_digest=secret_digest,
        apparmor=apparmor,
        route_root=str(route_root(session)),
        route_exec=route_exec,
        ca_bundle=ca_bundle,
        binds_reach=binds_reach,
    )


def check_context() -> CompileContext:
    """For validation only: reads no secret and hashes no build context (hashes are meaningless)."""
    return CompileContext(
        uid=os.getuid(),
        gid=os.getgid(),
        ca_bundle=lambda: ("/unchecked/ca-bundle.crt", "0" * 64),
        secret_digest=lambda _var: "unchecked",
        build_hash=lambda _context, _dockerfile: "0" * 64,
    )
