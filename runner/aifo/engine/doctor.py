"""`aifo doctor`: what this machine offers aifo, judged from facts (pure, table-tested).

A *failure* stops aifo from working (no engine, no internal networks, an unwritable state
folder) and makes doctor exit 1; a *warning* only limits it (no buildx, no AppArmor, offline
images not seeded) and exits 0. Every problem carries its fix.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from aifo.engine.api import EngineFacts
from aifo.engine.hints import install_engine, unreachable_hint

Status = Literal["ok", "warning", "failure", "info"]


@dataclass(frozen=True)
class Check:
    """One check of `aifo doctor`: its status, what it found, how to fix it."""

    name: str
    status: Status
    detail: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def writable(folder: Path) -> str | None:
    """None when aifo could write state under `folder` (created on first use), else why not.
    Nothing is created: the nearest existing ancestor decides."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            return f"no existing parent of {folder}"
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is not writable"
    if probe == folder:  # aifo's own: it must be the user's and private (aifo refuses it else)
        from aifo.state.private import Unsafe, check_folder

        try:
            check_folder(folder)
        except Unsafe as exc:
            return f"{exc.message}; fix: {exc.hint}"
    return None


def _option(options: tuple[str, ...], name: str) -> bool:
    return any(f"name={name}" in o.split(",") for o in options)


def checks(
    facts: EngineFacts, *, docker_cli: bool, state: Path, state_error: str | None
) -> list[Check]:
    out: list[Check] = []
    if not docker_cli:
        out.append(
            Check(
                f"{facts.engine.lower()} CLI",
                "failure",
                f"the `{facts.engine.lower()}` command is not on PATH",
                install_engine(),
            )
        )
    elif facts.error is not None:
        # the one message every command gives (engine.hints.unreachable), and its fix
        out.append(Check("engine", "failure", facts.error, unreachable_hint(facts.error)))
    else:
        version = f"{facts.engine} {facts.server_version} (API {facts.api_version or '?'})"
        out.append(Check("engine", "ok", f"{version} on {facts.os or 'unknown OS'}"))
        out.append(_storage(facts.storage_driver))
        if facts.internal_network is None:
            out.append(
                Check("internal networks", "ok", "an internal network was created and removed")
            )
        else:
            out.append(
                Check(
                    "internal networks",
                    "failure",
                    f"cannot create one: {facts.internal_network}",
                    "aifo puts agents on internal networks and will not run without them: "
                    "check the daemon's log; it needs iptables and bridge support",
                )
            )
        out.append(_host_guard(facts.host_guard))
        out += _security(facts.security_options)
        if facts.engine == "Podman":
            out.append(Check("builder", "ok", "podman build (Buildah)"))
        elif facts.buildx:
            out.append(Check("builder", "ok", "buildx"))
        else:
            out.append(
                Check(
                    "builder",
                    "warning",
                    "no buildx: images build with the legacy builder (slower, no cache mounts)",
                    "install the buildx plugin (Debian: `sudo apt-get install docker-buildx`)",
                )
            )
        if facts.stand_in_images:
            out.append(Check("offline images", "ok", f"{facts.stand_in_images} stand-in image(s)"))
        else:
            out.append(
                Check(
                    "offline images",
                    "warning",
                    "no seeded stand-in images: offline, catalog images cannot be built",
                    "in a checkout, run `scripts/seed-images`; on a machine that can pull, ignore",
                )
            )
        out += [
            Check("daemon", "warning", w.strip(), "see the daemon's documentation")
            for w in facts.warnings
        ]
    if state_error is None:
        out.append(Check("state folder", "ok", f"{state} is writable"))
    else:
        out.append(
            Check(
                "state folder",
                "failure",
                state_error,
                "set AIFO_STATE_DIR to a writable folder, or fix the permissions",
            )
        )
    return out


def _host_guard(problem: str | None) -> Check:
    """Internal networks filter only forwarded traffic: without aifo's INPUT rules, every
    service listening on the host is in reach of the agents (docs/security.md)."""
    if problem is None:
        return Check(
            "host guard",
            "ok",
            "internal networks are kept off the host (firewall rules set, read back, removed)",
        )
    return Check(
        "host guard",
        "failure",
        f"cannot keep internal networks off the host: {problem}",
        "run aifo as root with iptables (and ip6tables) installed; apply refuses internal "
        "networks otherwise, unless the spec accepts the risk with `allow: [host]`",
    )


def _storage(driver: str | None) -> Check:
    if driver == "vfs":
        return Check(
            "storage driver",
            "warning",
            "vfs: every layer is a full copy (slow builds, much disk)",
            "run the daemon with overlay2 where the kernel allows it",
        )
    return Check("storage driver", "ok", driver or "unknown")


def _security(options: tuple[str, ...]) -> list[Check]:
    rootless = _option(options, "rootless")
    out = [Check("rootless", "info", "yes" if rootless else "no (the daemon runs as root)")]
    if _option(options, "seccomp"):
        out.append(Check("seccomp", "ok", "default profile applies to containers"))
    else:
        out.append(
            Check(
                "seccomp",
                "warning",
                "the daemon has no seccomp: containers get no syscall filter",
                "use a daemon built with seccomp support",
            )
        )
    if _option(options, "apparmor"):
        out.append(Check("AppArmor", "ok", "containers are confined by docker-default"))
    else:
        out.append(
            Check(
                "AppArmor",
                "warning",
                "not available: containers run without an AppArmor profile",
                "enable AppArmor in the kernel (Debian: `sudo apt-get install apparmor`), "
                "then restart the daemon",
            )
        )
    return out


def exit_code(found: list[Check]) -> int:
    return 1 if any(c.status == "failure" for c in found) else 0
