"""Undo and commit operations as data, run against the engine.

Both rollback (in-process) and recovery (from the journal alone) run these, so each is
idempotent and guarded: an undo never removes an object that existed before the apply (its id or
name is in the journaled "before" fingerprint), and no operation removes, renames, starts or stops
an object without first finding this session's label on it (a journal is untrusted input: its
ids and names may point anywhere). NotFound counts as done.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aifo.apply.postcondition import Fingerprint, container_ids, network_ids
from aifo.engine.api import Engine, Want
from aifo.errors import NotFound
from aifo.model import LABEL_HASH, LABEL_SESSION
from aifo.plan.planner import Plan, Remove, Replace

Op = dict[str, Any]  # {"op": name, "args": {...}}


def op(kind: str, /, **args: Any) -> Op:
    return {"op": kind, "args": args}


@dataclass
class OpContext:
    """What an undo or roll-forward operation runs against."""

    engine: Engine
    session: str
    before: Fingerprint
    removed: set[str] = field(default_factory=set)  # container refs removed by this rollback
    # networks a rollback had to create again (a replaced network): same name, settings and
    # labels, but a new id, which the postcondition accepts for these names only
    recreated: set[str] = field(default_factory=set)


def _ours(ctx: OpContext, refs: list[str]) -> list[str]:
    """The ids of those of `refs` that exist and carry this session's label."""
    if not refs:
        return []
    found = ctx.engine.inspect_containers(list(dict.fromkeys(refs)))
    return [c.id for c in found if c.labels.get(LABEL_SESSION) == ctx.session]


def _discard_containers(ctx: OpContext, args: dict[str, Any], result: Any) -> None:
    old = container_ids(ctx.before)
    ids = [str(i) for i in args.get("ids") or []]
    if isinstance(result, dict) and result.get("id"):
        ids.append(str(result["id"]))
    lookup = [str(n) for n in args.get("lookup") or []]
    if not ids:  # outcome unknown: find what this apply may have created, by name
        lookup += [str(n) for n in args.get("names") or []]
    todo = [i for i in _ours(ctx, ids + lookup) if i not in old and i not in ctx.removed]
    if todo:
        ctx.engine.remove_containers(todo)
        ctx.removed.update(todo)


def _discard_network(ctx: OpContext, args: dict[str, Any], result: Any) -> None:
    name = str(args["name"])
    for net in ctx.engine.inspect_networks([name]):
        if net.labels.get(LABEL_SESSION) == ctx.session and net.id not in network_ids(ctx.before):
            try:
                ctx.engine.remove_network(net.id)
            except NotFound:
                pass


def _volume_is_ours(ctx: OpContext, name: str) -> bool:
    """Observe files a volume under `volumes` only when it carries this session's label."""
    return name in ctx.engine.observe(ctx.session, Want(volumes=(name,))).volumes


def _discard_volume(ctx: OpContext, args: dict[str, Any], result: Any) -> None:
    name = str(args["name"])
    if name in ctx.before.get("volumes", []) or not _volume_is_ours(ctx, name):
        return
    try:
        ctx.engine.remove_volume(name)
    except NotFound:
        pass


def _restore_network(ctx: OpContext, args: dict[str, Any], result: Any) -> None:
    """Create a removed network again as it was (the undo of a network's replacement). Done
    when a network of this session with that name is there already (not removed yet, or
    restored before a crash)."""
    name = str(args["name"])
    labels = {str(k): str(v) for k, v in args.get("labels") or []}
    for net in ctx.engine.inspect_networks([name]):
        if net.name != name or net.labels.get(LABEL_SESSION) != ctx.session:
            continue
        if net.id in network_ids(ctx.before):
            return  # never removed
        if net.labels.get(LABEL_HASH) != labels.get(LABEL_HASH):
            raise RuntimeError(f"network {name} {net.id[:12]} is not the one removed: left alone")
        ctx.recreated.add(name)
        _reguard(ctx, name)
        return
    ctx.engine.create_network(
        name,
        driver=str(args.get("driver") or "bridge"),
        internal=bool(args.get("internal")),
        subnet=str(args["subnet"]) if args.get("subnet") else None,
        labels=labels,
    )
    ctx.recreated.add(name)
    _reguard(ctx, name)


def _reguard(ctx: OpContext, name: str) -> None:
    """A restored network that had host guard rules (they name it, and outlive its bridge) gets
    them again on its new bridge before its containers are restarted: a rollback never leaves
    an internal network open to the host (docs/security.md)."""
    if not _had_guard(ctx, name):
        return
    [restored] = [n for n in ctx.engine.inspect_networks([name]) if n.name == name]
    ctx.engine.unguard_network(ctx.session, name)  # the removed bridge's rules
    ctx.engine.guard_network(ctx.session, restored)


def _had_guard(ctx: OpContext, name: str) -> bool:
    if ctx.engine.host_guard_problem() is not None:
        return False  # nothing could have been set (and apply refused unless opted out)
    return name in ctx.engine.network_guards(ctx.session)


def _restore_running(ctx: OpContext, args: dict[str, Any], result: Any) -> None:
    ref = str(args["id"])
    if not _ours(ctx, [ref]):
        return  # gone, or not this session's: not ours to start or stop
    try:
        if args.get("running"):
            ctx.engine.start_container(ref)
        else:
            ctx.engine.stop_container(ref)
    except NotFound:
        pass


def _attachment(ctx: OpContext, args: dict[str, Any], attach: bool) -> None:
    """Connect or disconnect a container of this session; done already (or gone) is done."""
    ref, network = str(args["id"]), str(args["network"])
    found = ctx.engine.inspect_containers([ref])
    if not found or found[0].labels.get(LABEL_SESSION) != ctx.session:
        return
    if (network in found[0].networks) == attach:
        return
    if attach:
        ctx.engine.connect_network(network, ref, [str(a) for a in args.get("aliases") or []])
    else:
        ctx.engine.disconnect_network(network, ref)


def _connect_network(ctx: OpContext, args: dict[str, Any], result: Any) -> None:
    _attachment(ctx, args, True)


def _disconnect_network(ctx: OpContext, args: dict[str, Any], result: Any) -> None:
    _attachment(ctx, args, False)


def _remove_containers(ctx: OpContext, args: dict[str, Any], result: Any) -> None:
    ids = _ours(ctx, [str(i) for i in args.get("ids") or []])
    if ids:
        ctx.engine.remove_containers(ids)


def _rename_container(ctx: OpContext, args: dict[str, Any], result: Any) -> None:
    ref, name = str(args["id"]), str(args["name"])
    if not _ours(ctx, [ref]):
        raise RuntimeError(f"container {ref[:12]} is gone or not session {ctx.session!r}'s")
    try:
        ctx.engine.rename_container(ref, name)
    except Exception:
        found = ctx.engine.inspect_containers([ref])
        if found and found[0].name.lstrip("/") == name:
            return  # renamed before a crash
        raise


def _remove_network(ctx: OpContext, args: dict[str, Any], result: Any) -> None:
    for net in ctx.engine.inspect_networks([str(args["id"])]):
        if net.labels.get(LABEL_SESSION) == ctx.session:
            try:
                ctx.engine.remove_network(net.id)
            except NotFound:
                pass


def _remove_volume(ctx: OpContext, args: dict[str, Any], result: Any) -> None:
    name = str(args["name"])
    if not _volume_is_ours(ctx, name):
        return
    try:
        ctx.engine.remove_volume(name)
    except NotFound:
        pass


def _unguard_network(ctx: OpContext, args: dict[str, Any], result: Any) -> None:
    """Remove the host guard rules of one of this session's networks (found by their exact
    session and network comment), unless they were there before the step that set them.
    Where aifo cannot change the firewall (not root) it cannot have set any."""
    if args.get("had") or ctx.engine.host_guard_problem() is not None:
        return
    ctx.engine.unguard_network(ctx.session, str(args["network"]))


def _all(ctx: OpContext, args: dict[str, Any], result: Any) -> None:
    """Several undos as one (a batched start undoes both created and restarted containers)."""
    errors: list[str] = []
    for sub in args.get("ops") or []:
        try:
            run_op(ctx, sub, result)
        except Exception as exc:  # noqa: BLE001 - run every part, report them together
            errors.append(f"{describe(sub)}: {exc}")
    if errors:
        raise RuntimeError("; ".join(errors))


_OPS: dict[str, Callable[[OpContext, dict[str, Any], Any], None]] = {
    "all": _all,
    "discard_containers": _discard_containers,
    "discard_network": _discard_network,
    "discard_volume": _discard_volume,
    "restore_network": _restore_network,
    "connect_network": _connect_network,
    "disconnect_network": _disconnect_network,
    "restore_running": _restore_running,
    "remove_containers": _remove_containers,
    "rename_container": _rename_container,
    "remove_network": _remove_network,
    "remove_volume": _remove_volume,
    "unguard_network": _unguard_network,
}


def check_ops(operations: list[Op]) -> None:
    """Before a journal's operations run: every one (and every part of an `all`) is known."""
    for operation in operations:
        name = operation.get("op")
        if name not in _OPS:
            raise ValueError(f"unknown journal operation {name!r}")
        if name == "all":
            parts = (operation.get("args") or {}).get("ops") or []
            if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
                raise ValueError("malformed `all` operation")
            check_ops(parts)


def run_op(ctx: OpContext, operation: Op, result: Any = None) -> None:
    handler = _OPS.get(str(operation.get("op")))
    if handler is None:
        raise ValueError(f"unknown journal operation {operation.get('op')!r}")
    handler(ctx, dict(operation.get("args") or {}), result)


def describe(operation: Op) -> str:
    args = operation.get("args") or {}
    what = args.get("name") or args.get("names") or args.get("id") or args.get("ids") or ""
    if args.get("network"):
        what = f"{str(what)[:12]} {args['network']}".strip()
    if isinstance(what, list):
        what = ", ".join(str(w)[:12] if len(str(w)) == 64 else str(w) for w in what)
    elif isinstance(what, str) and len(what) == 64:
        what = what[:12]
    return f"{operation.get('op')} {what}".strip()


def commit_ops(plan: Plan, new_ids: Mapping[str, str]) -> list[Op]:
    """What the commit does, in order: remove replaced and departed containers (one call),
    rename each replacement (`new_ids`: graph id -> its new container's id), then remove
    departed networks (each with its host guard rules), then departed volumes."""
    replaced = [a for a in plan.changes if isinstance(a, Replace)]
    removed = [a for a in plan.changes if isinstance(a, Remove)]
    ops: list[Op] = []
    old_ids = [a.old_id for a in replaced]
    old_ids += [a.observed_id for a in removed if a.kind == "container"]
    if old_ids:
        ops.append(op("remove_containers", ids=old_ids))
    ops += [op("rename_container", id=new_ids[r.id], name=r.docker_name) for r in replaced]
    for gone in removed:
        if gone.kind == "network":  # then its host guard rules, if it had any
            ops.append(op("remove_network", id=gone.observed_id, name=gone.docker_name))
            ops.append(op("unguard_network", network=gone.docker_name))
    ops += [op("remove_volume", name=gone.docker_name) for gone in removed if gone.kind == "volume"]
    return ops
