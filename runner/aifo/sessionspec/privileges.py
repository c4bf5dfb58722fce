"""What weakens a container's secure defaults, each with the named `allow:` opt-in it needs.

| setting | opt-in |
|---|---|
| `security.privileged: true` | `privileged` |
| `security.cap_add: [...]`; `security.cap_drop` without ALL | `capabilities` |
| `security.no_new_privileges: false` | `new-privileges` |
| a root `user:` (`0`, `root`, `0:0`, `1000:0`, ...) on the container or a hook | `root` |
| `security.read_only: false` | `writable-root` |

The host-user mapping (`user: host`, the default) is not a weakening: it maps whoever runs aifo,
root in CI included; an image's own default user (`user: image`) is the image's business. Pure.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aifo.sessionspec.nodes import JsonPath

Weakening = tuple[str, JsonPath, str, str]  # (opt-in, path in the container, what, why)
KINDS = ("capabilities", "new-privileges", "privileged", "root", "writable-root")
_SPECIAL_USERS = ("host", "image")


def is_root_user(user: Any) -> bool:
    """True for a uid or gid of 0 or `root`, however written (`0`, `00`, `root:x`, `1000:0`)."""
    if user is None or isinstance(user, bool):
        return False
    text = str(user).strip()
    if text in _SPECIAL_USERS:
        return False
    return any(part == "root" or (part.isdigit() and int(part) == 0) for part in text.split(":"))


def weakenings(container: dict[str, Any]) -> Iterator[Weakening]:
    security = container.get("security") or {}
    if security.get("privileged"):
        yield (
            "privileged",
            ("security", "privileged"),
            "a privileged container",
            "privileged containers can take over the host",
        )
    if security.get("cap_add"):
        yield (
            "capabilities",
            ("security", "cap_add"),
            "adding capabilities (" + ", ".join(map(str, security["cap_add"])) + ")",
            "extra capabilities widen what a process in the container may do to the kernel",
        )
    drop = security.get("cap_drop")
    if drop is not None and "ALL" not in {str(c).upper() for c in drop}:
        yield (
            "capabilities",
            ("security", "cap_drop"),
            "keeping Docker's default capabilities (cap_drop without ALL)",
            "the default is to drop every capability",
        )
    if security.get("no_new_privileges") is False:
        yield (
            "new-privileges",
            ("security", "no_new_privileges"),
            "no_new_privileges: false",
            "setuid programs could then raise their privileges",
        )
    if security.get("read_only") is False:
        yield (
            "writable-root",
            ("security", "read_only"),
            "a writable root filesystem",
            "the default is a read-only root with a writable /tmp and HOME",
        )
    if is_root_user(container.get("user")):
        yield (
            "root",
            ("user",),
            "running as root",
            "root in a container is one bug from root on the host",
        )
    for i, hook in enumerate(container.get("hooks") or []):
        if is_root_user(hook.get("user")):
            yield (
                "root",
                ("hooks", i, "user"),
                f"running hook {hook.get('name', i)!r} as root",
                "root in a container is one bug from root on the host",
            )
