"""Running one hook: `exec` in its container with the container's env and secrets (exec-time
only), output captured; a failure names the exit code, the output's tail (secrets masked) and,
when the container itself died, why."""

from __future__ import annotations

from typing import Any

from aifo.apply.died import DYING_SETTLE_S, KILLED, why_stopped
from aifo.engine.api import Engine
from aifo.errors import EngineError, HookFailed
from aifo.masking import mask_values
from aifo.model import Container, Hook
from aifo.state.secrets import SecretReader, secret_env


def run_hook(
    engine: Engine, c: Container, hook: Hook, ref: str, read_secret: SecretReader
) -> dict[str, Any]:
    """Run `hook` in container `ref`; HookFailed unless it exits 0."""
    env = {e.key: e.value for e in c.env if not e.secret and e.value is not None}
    secrets = secret_env(c, read_secret)
    env.update(secrets)
    try:
        code, output = engine.exec_capture(
            ref,
            list(hook.command),
            user=hook.user if hook.user is not None else c.user,
            workdir=c.working_dir,
            env=env,
        )
    except EngineError as exc:  # e.g. the container died before the hook could start
        why = why_stopped(engine, c.id, ref, secrets.values(), DYING_SETTLE_S)
        if not why:
            raise
        raise HookFailed(f"{hook.id}: could not run: {exc.message}{why}") from exc
    if code != 0:
        tail = mask_values(output.strip()[-800:], secrets.values())
        message = f"{hook.id}: exited with code {code}" + (f":\n{tail}" if tail else "")
        settle = DYING_SETTLE_S if code == KILLED else 0.0  # its container may be dying
        why = why_stopped(engine, c.id, ref, secrets.values(), settle)
        raise HookFailed(message + why)
    return {"exit_code": code}
