"""Secure defaults on a Swarm task, verified by facts: `/proc/1/status` inside its container.

Swarm's API (1.41) silently drops a service's `Privileges.NoNewPrivileges`; only a node whose
daemon sets `"no-new-privileges": true` gives it, and neither the service nor `docker info`
shows whether it did. The kernel does: `NoNewPrivs`, `CapEff`/`CapBnd` and `Seccomp` of the
task's PID 1, read through the node's own engine (an exec of `cat`, else of the shell's `read`).
What cannot be read is a problem too: aifo fails closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from aifo.engine.podman_dialect import DEFAULT_CAPS
from aifo.engine.socket_engine import SocketEngine
from aifo.engine.swarm.nodes import Nodes
from aifo.engine.swarm.placement import DAEMON_FIX
from aifo.engine.swarm.tasks import TaskRef
from aifo.errors import EngineError, NodeWithoutNnp, NotFound, VerificationFailed
from aifo.model import Container
from aifo.state.nodefacts import record_fact

# capability name -> its bit (linux/capability.h)
CAPS = {
    name: bit
    for bit, name in enumerate(
        "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP "
        "LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER "
        "SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE "
        "SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP "
        "MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF "
        "CHECKPOINT_RESTORE".split()
    )
}
_ALL = (1 << 64) - 1  # the kernel's own caps beyond this table count as allowed under ALL
_READ = ["cat", "/proc/1/status"]
# no `cat` in the image: the shell's own `read` (busybox, dash, bash all have it)
_READ_SH = ["sh", "-c", 'while IFS= read -r l; do echo "$l"; done </proc/1/status']
_FIELDS = ("NoNewPrivs", "CapEff", "CapBnd", "Seccomp")


def _bare(cap: str) -> str:
    upper = cap.strip().upper()
    return upper[4:] if upper.startswith("CAP_") else upper


def allowed_caps(container: Container) -> int:
    """The capability mask the spec leaves a container: Docker's defaults, less `cap_drop`,
    plus `cap_add` (ALL on either side as Docker reads it)."""
    if container.privileged:
        return _ALL
    drop = {_bare(c) for c in container.cap_drop}
    add = {_bare(c) for c in container.cap_add}
    if "ALL" in add:
        return _ALL
    kept = set() if "ALL" in drop else set(DEFAULT_CAPS) - drop
    return sum(1 << CAPS[c] for c in kept | add if c in CAPS)


def seccomp_wanted(container: Container) -> bool:
    """False when the spec turns seccomp off (`seccomp=unconfined`, or privileged)."""
    if container.privileged:
        return False
    opts = {o.replace(":", "=", 1).replace(" ", "") for o in container.security_opt}
    return "seccomp=unconfined" not in opts


def parse_status(text: str) -> dict[str, str]:
    """The fields of /proc/PID/status this check reads, as the kernel wrote them."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key in _FIELDS:
            out[key] = value.strip()
    return out


def _names(mask: int) -> str:
    names = [name for name, bit in CAPS.items() if mask >> bit & 1]
    rest = mask & ~sum(1 << b for b in CAPS.values())
    return ", ".join(names + ([f"bits {rest:#x}"] if rest else [])) or "none"


def problems(fields: Mapping[str, str], container: Container) -> list[str]:
    """What the task's PID 1 shows that the spec does not allow (empty: all as declared)."""
    out: list[str] = []
    missing = [f for f in _FIELDS if f not in fields]
    if missing:
        return [f"/proc/1/status has no {', '.join(missing)}: cannot be verified"]
    try:
        nnp = int(fields["NoNewPrivs"])
        seccomp = int(fields["Seccomp"])
        eff, bnd = int(fields["CapEff"], 16), int(fields["CapBnd"], 16)
    except ValueError:
        return ["/proc/1/status is not the kernel's: cannot be verified"]
    if container.no_new_privileges and nnp != 1:
        out.append(f"no-new-privileges is off (NoNewPrivs {nnp}): {DAEMON_FIX}")
    allowed = allowed_caps(container)
    extra = (eff | bnd) & ~allowed
    if extra:
        out.append(
            f"capabilities beyond what the spec leaves ({_names(extra)}; CapEff {eff:#x}, "
            f"CapBnd {bnd:#x}, allowed {allowed:#x})"
        )
    if seccomp_wanted(container) and seccomp != 2:
        out.append(
            f"no seccomp filter (Seccomp {seccomp}): the node's dockerd must apply its default "
            "profile (a daemon built with seccomp, no `seccomp-profile: unconfined`)"
        )
    return out


def _read_status(node_engine: SocketEngine, container_id: str) -> str | None:
    """/proc/1/status of the container; None when neither `cat` nor `sh` can run there."""
    for argv in (_READ, _READ_SH):
        code, out = node_engine.exec_capture(container_id, argv, timeout_s=30)
        if code == 0 and "NoNewPrivs" in out:
            return out
        if code not in (126, 127):
            raise EngineError(f"reading /proc/1/status exited {code}: {out.strip()[-300:]}")
    return None


def read_fields(node_engine: SocketEngine, container_id: str) -> dict[str, str] | str:
    """The status fields of the task's PID 1, or why they could not be read."""
    try:
        text = _read_status(node_engine, container_id)
    except NotFound:
        return f"task container {container_id[:12]} is gone"
    except EngineError as err:
        return f"cannot read /proc/1/status of task container {container_id[:12]}: {err.message}"
    if text is None:
        return (
            "its image has neither `cat` nor `sh`, so /proc/1/status cannot be read: add a "
            "`cat` (e.g. busybox's) to the image"
        )
    return parse_status(text)


def proc_status(node_engine: SocketEngine, container_id: str) -> dict[str, str]:
    """The task's PID 1 status fields (NoNewPrivs, CapEff, CapBnd, Seccomp) as the kernel
    wrote them; {} when they cannot be read (observe then claims nothing)."""
    fields = read_fields(node_engine, container_id)
    return fields if isinstance(fields, dict) else {}


def judge(node: str, fields: dict[str, str] | str, container: Container) -> str | None:
    """The verdict on what was read (`read_fields`), naming the node and the fix."""
    found = [fields] if isinstance(fields, str) else problems(fields, container)
    if not found:
        return None
    opt_out = any("NoNewPrivs" in f for f in found)
    return (
        f"container {container.name} on swarm node {node} fails its secure defaults: "
        + "; ".join(found)
        + (" (or, for this container only, `security: {no_new_privileges: false}` in the spec)"
           if opt_out else "")
    )  # fmt: skip


def _node_name(node_engine: SocketEngine) -> str:
    return str(getattr(node_engine, "node", "") or node_engine.wire.path)


def task_problem(node_engine: SocketEngine, container_id: str, container: Container) -> str | None:
    """Why the task container `container_id` (on the node of `node_engine`) is not as
    `container` declares, naming the node and the fix; None when it is."""
    return judge(_node_name(node_engine), read_fields(node_engine, container_id), container)


def read_task(nodes: Nodes, task: TaskRef) -> dict[str, str] | str:
    """The status fields of a running task's PID 1 (`read_fields`), or why they could not be
    read; what its node gave (no-new-privileges or not) is recorded for placement."""
    if task.container_id is None:
        return "its task has no container yet"
    fields = read_fields(nodes.engine(task.node_id), task.container_id)
    if isinstance(fields, dict) and fields.get("NoNewPrivs") in ("0", "1"):
        node = nodes.node(task.node_id)
        record_fact(node.id, node.hostname, nnp=fields["NoNewPrivs"] == "1")
    return fields


def verify_task(
    nodes: Nodes, task: TaskRef, container: Container, fields: dict[str, str] | str | None = None
) -> dict[str, str]:
    """Verify a running task on its node (`fields`: what `read_task` read of it, else read
    now); VerificationFailed (fail closed) with the reason. Returns the fields read, so the
    caller keeps them: a container's PID 1 and its no_new_privs bit are fixed for its life,
    and a second exec to read them again costs ~80 ms per task (more under load)."""
    if fields is None:
        fields = read_task(nodes, task)
    if task.container_id is None:
        raise VerificationFailed(f"container {container.name}: its task has no container yet")
    problem = judge(_node_name(nodes.engine(task.node_id)), fields, container)
    if problem is not None and isinstance(fields, dict) and nnp_only(fields, container):
        node = nodes.node(task.node_id)
        raise NodeWithoutNnp(problem, node_id=node.id, node=node.hostname or node.id)
    if problem is not None or not isinstance(fields, dict):
        raise VerificationFailed(problem or f"container {container.name}: not verified")
    return fields


def nnp_only(fields: Mapping[str, str], container: Container) -> bool:
    """Whether no-new-privileges off is all that is wrong (the node's daemon, nothing of the
    spec or the image): a fresh session may be placed on another node (aifo.apply.elsewhere)."""
    if not container.no_new_privileges or fields.get("NoNewPrivs") != "0":
        return False
    return not problems(fields, replace(container, no_new_privileges=False))
