"""The `allow:` opt-ins: whatever weakens the secure defaults (aifo.sessionspec.privileges) is an
error without its named opt-in, and with it a warning (which validate, plan and apply print).

One family of the semantic checks (aifo.sessionspec.semantics): schema-valid data, located issues.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aifo.sessionspec import privileges
from aifo.sessionspec.nodes import JsonPath

if TYPE_CHECKING:
    from aifo.sessionspec.semantics import Checker


def check(checker: Checker) -> None:
    """Every `allow:` of the spec's networks and containers, and what needs one."""
    from aifo.sessionspec.semantics import containers  # here: semantics imports this module

    for name, net in (checker.data.get("networks") or {}).items():
        if not net or "host" not in (net.get("allow") or ()):
            continue
        if net.get("internal"):
            checker.warn(
                ("networks", name, "allow"),
                "containers on this internal network may reach the host's own addresses "
                "(allowed by allow: host)",
            )
        else:
            checker.add(
                ("networks", name, "allow"),
                "`allow: [host]` is only for an internal network",
                "a network that is not internal reaches the host anyway; drop `allow`, or "
                "make the network `internal: true`",
            )
    for section, name, container in containers(checker.data):
        allow = set(container.get("allow") or [])
        base: JsonPath = (section, name)
        for path, var in privileges.reserved_env(container):
            checker.add(
                (*base, *path),
                f"{var} is aifo's own variable (AIFO_*) and is never passed to routed commands",
                "drop it from pass_env; nothing opts in to this",
            )
        for kind, path, what, why in privileges.weakenings(container):
            full = (*base, *path)
            hook_allow = _hook_allow(container, path)
            if kind in allow or (kind == "root" and hook_allow == "root"):
                checker.warn(full, f"{what} (allowed by allow: {kind})")
            else:
                where = (
                    "`allow: root` to the hook, or "
                    if hook_allow is not None or (path[0] == "hooks")
                    else ""
                )
                checker.add(
                    full,
                    f"{what} needs `allow: [{kind}]`",
                    f"{why}; add {where}`{kind}` to the container's `allow:` list, if you mean it",
                )


def _hook_allow(container: dict[str, Any], path: JsonPath) -> str | None:
    if len(path) >= 2 and path[0] == "hooks" and isinstance(path[1], int):
        hook = (container.get("hooks") or [])[path[1]]
        return str(hook["allow"]) if "allow" in hook else None
    return None
