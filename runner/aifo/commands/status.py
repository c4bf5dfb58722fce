"""`aifo status`: each object's state, health and drift, plus name collisions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from aifo.commands.options import lock_timeout_option, profile_option, spec_argument

if TYPE_CHECKING:
    from aifo.model import Session
    from aifo.observed import Snapshot


def status_rows(snap: Snapshot, session: Session | None) -> list[dict[str, Any]]:
    """One row per object: declared ones (with drift), owned leftovers, foreign collisions."""
    from aifo.model import LABEL_RESOURCE

    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()

    def row(kind: str, name: str, resource: str, state: str, **extra: Any) -> None:
        seen.add((kind, name))
        rows.append({"kind": kind, "name": name, "resource": resource, "state": state, **extra})

    if session is not None:
        for net in session.networks:
            if net.external:
                found = net.docker_name in snap.external_networks
                row("network", net.docker_name, net.id, "external" if found else "missing")
                continue
            on = snap.networks.get(net.docker_name)
            if on is None:
                row("network", net.docker_name, net.id, "missing")
            else:
                row(
                    "network",
                    net.docker_name,
                    net.id,
                    "present",
                    drift=on.config_hash != net.config_hash,
                )
        for vol in session.volumes:
            present = vol.docker_name in (
                snap.external_volumes
                if vol.external
                else {**snap.volumes, **snap.foreign_volumes}
                if vol.shared
                else snap.volumes
            )
            state = ("external" if vol.external else "present") if present else "missing"
            row("volume", vol.docker_name, vol.id, state)
        for c in session.containers:
            oc = snap.containers.get(c.docker_name)
            if oc is None:
                row("container", c.docker_name, c.id, "missing")
            else:
                row(
                    "container",
                    c.docker_name,
                    c.id,
                    oc.state,
                    health=oc.health,
                    drift=oc.config_hash != c.config_hash,
                    id=oc.id[:12],
                )
    for name, oc in sorted(snap.containers.items()):
        if ("container", name) not in seen:
            row(
                "container",
                name,
                oc.labels.get(LABEL_RESOURCE, ""),
                oc.state,
                health=oc.health,
                id=oc.id[:12],
                note="not in spec" if session else None,
            )
    for name, on in sorted(snap.networks.items()):
        if ("network", name) not in seen:
            row(
                "network",
                name,
                on.labels.get(LABEL_RESOURCE, ""),
                "present",
                note="not in spec" if session else None,
            )
    for name, ov in sorted(snap.volumes.items()):
        if ("volume", name) not in seen:
            row(
                "volume",
                name,
                ov.labels.get(LABEL_RESOURCE, ""),
                "present",
                note="not in spec" if session else None,
            )
    foreign: list[tuple[str, str]] = [("container", n) for n in snap.foreign_containers]
    foreign += [("network", n) for n in snap.foreign_networks]
    foreign += [("volume", n) for n in snap.foreign_volumes]
    shared = {v.docker_name for v in session.volumes if v.shared} if session else set()
    for kind, name in sorted(foreign):
        if name not in shared and not name.endswith(".next"):
            row(kind, name, "", "collision", note="exists but is not owned by this session")
    return rows


@click.command("status")
@spec_argument
@profile_option
@lock_timeout_option
@click.option(
    "--output", "-o", type=click.Choice(["text", "json"]), default="text", help="Output format."
)
def command(
    spec_file: str | None,
    session_name: str | None,
    profiles: tuple[str, ...],
    lock_timeout: float,
    output: str,
) -> None:
    """Show the session's objects: state, health, drift from the spec, objects the spec no
    longer declares, and names taken by objects aifo doesn't own. With --session NAME and no
    spec found, the session's objects by their labels alone."""
    import json

    from rich.console import Console
    from rich.table import Table

    from aifo import pipeline
    from aifo.commands.options import session_override, spec_given
    from aifo.commands.options import spec_file as find_spec_file
    from aifo.discovery import find_spec
    from aifo.engine.api import Want
    from aifo.errors import UsageError

    session_name = session_override(session_name)
    path: str | None
    if spec_file is None and not spec_given() and session_name:
        try:  # by name alone when no spec is around
            path = str(find_spec())
        except UsageError:
            path = None
    else:
        path = find_spec_file(spec_file)
    session = pipeline.load_session(path, profiles, session_name) if path else None
    name = session.name if session else str(session_name)
    engine = pipeline.connect()
    pipeline.recover_unlocked(
        engine, name, notify=lambda m: click.echo(m, err=True), lock_timeout=lock_timeout
    )
    snap = pipeline.observe(engine, session) if session else engine.observe(name, Want())
    rows = status_rows(snap, session)
    if output == "json":
        click.echo(json.dumps({"session": name, "objects": rows}, indent=2))
        return
    console = Console()
    if not rows:
        console.print(f"Session {name!r}: nothing in Docker.", highlight=False)
        return
    if not console.is_terminal:
        for r in rows:
            drifted = " drift" if r.get("drift") else ""
            extra = "".join(f" {r[k]}" for k in ("health", "note") if r.get(k))
            click.echo(f"{r['kind']:<9} {r['name']} {r['resource']} {r['state']}{drifted}{extra}")
        return
    table = Table(title=f"Session {name!r}", title_justify="left")
    for column in ("kind", "name", "resource", "state", "health", "drift", "note"):
        table.add_column(column)
    for r in rows:
        drift = r.get("drift")
        table.add_row(
            r["kind"],
            r["name"],
            r["resource"],
            r["state"],
            r.get("health") or "",
            "yes" if drift else ("" if drift is None else "no"),
            r.get("note") or "",
        )
    console.print(table)
