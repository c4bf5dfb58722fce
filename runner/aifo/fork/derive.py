"""A fork's spec, derived from the main one (pure): its own session name, its clone as the
workspace, bind mounts inside the repository mapped into the clone, a fork label on every
container. What a fork cannot have is refused with the spec's location: host ports (N forks
would collide) and external networks (forks would reach each other through them)."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

from aifo.errors import ForkError, SpecError, UsageError
from aifo.fork.layout import fork_session
from aifo.issue import Issue
from aifo.model import LABEL_FORK
from aifo.sessionspec import ResolvedSpec
from aifo.sessionspec.finalize import WORKSPACE_DEFAULT
from aifo.sessionspec.nodes import JsonPath, format_path
from aifo.sessionspec.semantics import containers
from aifo.suggest import did_you_mean

MAX_SESSION = 40  # the schema's maxLength of `session`


def _inside(path: Path, root: Path) -> Path | None:
    """`path` relative to `root` when it is inside it (both real), else None."""
    try:
        return Path(path).resolve().relative_to(root)
    except ValueError:
        return None


def check_forkable(resolved: ResolvedSpec) -> None:
    """Refuse, located, what no fork may have: published host ports, external networks."""
    issues: list[Issue] = []

    def add(path: JsonPath, message: str, hint: str) -> None:
        issues.append(Issue(resolved.location(*path), format_path(path), message, hint))

    from aifo.values.ports import port

    for section, name, container in containers(resolved.data):
        for i, value in enumerate(container.get("ports") or []):
            if port(value).host_port is not None:
                add(
                    (section, name, "ports", i),
                    "a fork cannot publish a host port (N forks would collide)",
                    "move `ports:` to a profile the forks do not use; reach a fork's server "
                    "with `aifo fork exec`",
                )
    for name, network in (resolved.data.get("networks") or {}).items():
        if isinstance(network, dict) and network.get("external"):
            add(
                ("networks", name, "external"),
                "a fork cannot join an external network (forks would reach each other)",
                "declare the network without `external:` so each fork gets its own",
            )
    if issues:
        raise SpecError(issues)


def derive(
    resolved: ResolvedSpec,
    *,
    repo: Path,
    clone: Path,
    number: int,
    agents: tuple[str, ...] = (),
) -> ResolvedSpec:
    """Fork `number`'s spec: the workspace and the repository's bind mounts in `clone`."""
    check_forkable(resolved)
    data: dict[str, Any] = copy.deepcopy(resolved.data)
    main = str(data["session"])
    name = fork_session(main, number)
    if len(name) > MAX_SESSION:
        raise UsageError(
            f"the fork session name {name!r} is longer than {MAX_SESSION} characters",
            hint="shorten `session:` in the spec, or give a shorter --session NAME",
        )
    data["session"] = name
    _keep_agents(data, agents)
    workspace = data.get("workspace")
    settings: dict[str, Any] = dict(workspace) if isinstance(workspace, dict) else {}
    used = any(c.get("workspace", WORKSPACE_DEFAULT[s]) for s, _n, c in containers(data))
    if used:
        source = Path(settings.get("path") or resolved.base_dir)
        inside = _inside(source, repo)
        if inside is None:
            raise ForkError(
                f"the workspace {source} is not inside the repository {repo}",
                hint="fork mode clones the repository that holds the workspace",
            )
        settings["path"] = str(clone / inside)
        data["workspace"] = settings
    for section, cname, container in containers(data):
        for i, mount in enumerate(container.get("mounts") or []):
            if "source" not in mount:
                continue
            inside = _inside(Path(mount["source"]), repo)
            if inside is None:
                continue  # a host path the spec shares on purpose: the same for every fork
            mapped = clone / inside
            if not mapped.exists() and not mount.get("create"):
                raise ForkError(
                    f"{format_path((section, cname, 'mounts', i, 'source'))}: "
                    f"{mount['source']} is not in the fork's clone (not committed?)",
                    hint="commit it, or list it under `fork.include:` in the spec",
                )
            mount["source"] = str(mapped)
        labels = container.get("labels")
        labels = dict(labels) if isinstance(labels, dict) else {}
        labels[LABEL_FORK] = f"{main}/{number}"
        container["labels"] = labels
    return replace(resolved, data=data)


def _keep_agents(data: dict[str, Any], agents: tuple[str, ...]) -> None:
    """`--agent NAME ...`: only these agents (their toolchains and services stay)."""
    if not agents:
        return
    declared = dict(data.get("agents") or {})
    for agent in agents:
        if agent not in declared:
            raise UsageError(
                f"no agent {agent!r} in the spec",
                hint=did_you_mean(agent, declared, f"agents: {', '.join(sorted(declared))}"),
            )
    data["agents"] = {n: c for n, c in declared.items() if n in agents}


def includes(resolved: ResolvedSpec, repo: Path) -> list[Path]:
    """`fork.include:` entries, each relative to the repository (refused when outside it)."""
    fork = resolved.data.get("fork")
    found: list[Path] = []
    for entry in (fork.get("include") if isinstance(fork, dict) else None) or []:
        inside = _inside(Path(entry), repo)
        if inside is None or inside == Path("."):
            raise ForkError(
                f"fork.include: {entry} is not inside the repository {repo}",
                hint="list files or folders of the repository only",
            )
        found.append(inside)
    return found
