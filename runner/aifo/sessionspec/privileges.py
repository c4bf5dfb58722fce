"""What weakens a container's secure defaults, each with the named `allow:` opt-in it needs.

| setting | opt-in |
|---|---|
| `security.privileged: true` | `privileged` |
| `security.cap_add: [...]`; `security.cap_drop` without ALL | `capabilities` |
| `security.no_new_privileges: false` | `new-privileges` |
| a root `user:` (`0`, `root`, `0:0`, `1000:0`, ...) on the container or a hook | `root` |
| `security.read_only: false` | `writable-root` |
| a `pass_env` name that changes how programs load or run (`PROGRAM_ENV`) | `program-env` |

A `pass_env` name of aifo's own (`AIFO_*`: the exec and route markers) is never allowed
(`reserved_env`): a routed command carrying a forged marker could be signalled, or hide, as another.

The host-user mapping (`user: host`, the default) is not a weakening: it maps whoever runs aifo,
root in CI included; an image's own default user (`user: image`) is the image's business. Pure.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aifo.sessionspec.nodes import JsonPath

Weakening = tuple[str, JsonPath, str, str]  # (opt-in, path in the container, what, why)
KINDS = ("capabilities", "new-privileges", "privileged", "program-env", "root", "writable-root")

# Variables through which a caller decides what code a program loads or runs (loader, shells,
# interpreters, tools that start helpers), compared upper-cased. docs/security.md lists them.
PROGRAM_ENV_PREFIXES = ("LD_", "DYLD_", "GIT_CONFIG", "BASH_FUNC_")
PROGRAM_ENV = frozenset(
    {
        # the dynamic loader and libc
        "GCONV_PATH", "LOCPATH", "NLSPATH", "HOSTALIASES", "RESOLV_HOST_CONF", "MALLOC_CONF",
        # where programs are found; shells' start-up and expansion
        "PATH", "HOME", "ZDOTDIR", "XDG_CONFIG_HOME", "BASH_ENV", "ENV", "IFS", "CDPATH", "PS4",
        "PROMPT_COMMAND", "SHELLOPTS", "BASHOPTS", "GLOBIGNORE", "INPUTRC", "SHELL",
        # interpreters' search paths and start-up options
        "PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "PYTHONUSERBASE", "PYTHONBREAKPOINT",
        "PYTHONINSPECT", "PYTHONWARNINGS", "NODE_OPTIONS", "NODE_PATH", "PERL5LIB", "PERL5OPT",
        "PERLLIB", "PERL5DB", "RUBYOPT", "RUBYLIB", "LUA_INIT", "LUA_PATH", "LUA_CPATH",
        "TCLLIBPATH", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH",
        # tools that start other programs named by a variable
        "RUSTC", "RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER", "CARGO_BUILD_RUSTC_WRAPPER",
        "CC", "CXX", "LD", "GOFLAGS", "EDITOR", "VISUAL", "PAGER", "GIT_PAGER", "GIT_EXEC_PATH",
        "GIT_SSH", "GIT_SSH_COMMAND", "GIT_ASKPASS", "SSH_ASKPASS", "GIT_PROXY_COMMAND",
        "GIT_EXTERNAL_DIFF", "GIT_DIR", "GIT_WORK_TREE", "MAKEFLAGS", "MFLAGS", "GNUMAKEFLAGS",
    }
)  # fmt: skip
RESERVED_ENV_PREFIX = "AIFO_"


def is_program_env(name: str) -> bool:
    """True for a variable that changes how programs load or run (`LD_PRELOAD`, `PATH`, ...)."""
    upper = name.upper()
    return upper in PROGRAM_ENV or upper.startswith(PROGRAM_ENV_PREFIXES)


def reserved_env(container: dict[str, Any]) -> Iterator[tuple[JsonPath, str]]:
    """`pass_env` names of aifo's own (never passed, whatever the opt-ins)."""
    for i, name in enumerate(container.get("pass_env") or []):
        if str(name).upper().startswith(RESERVED_ENV_PREFIX):
            yield ("pass_env", i), str(name)


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
    for i, name in enumerate(container.get("pass_env") or []):
        if is_program_env(str(name)) and not str(name).upper().startswith(RESERVED_ENV_PREFIX):
            yield (
                "program-env",
                ("pass_env", i),
                f"passing {name} to routed commands",
                f"{name} changes which code a program loads or runs, and the agent sets it",
            )
    for i, hook in enumerate(container.get("hooks") or []):
        if is_root_user(hook.get("user")):
            yield (
                "root",
                ("hooks", i, "user"),
                f"running hook {hook.get('name', i)!r} as root",
                "root in a container is one bug from root on the host",
            )
