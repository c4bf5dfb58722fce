"""`aifo ls`: the sessions on this engine, from their objects' labels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from aifo.commands.options import output_option

if TYPE_CHECKING:
    from aifo.engine.api import SessionSummary


def state_of(s: SessionSummary) -> str:
    if not s.containers:
        return "no containers"
    if s.running == s.containers:
        return "running"
    return "stopped" if not s.running else "partly running"


def forks_of_sessions() -> dict[str, tuple[str, int]]:
    """Fork session -> (its main session, its number), from the fork records (aifo.fork)."""
    from aifo.fork import records
    from aifo.state.folder import state_root

    found: dict[str, tuple[str, int]] = {}
    for folder in (state_root() / "forks").glob("*"):
        for r in records.read_all(folder):
            found[r.fork_session] = (r.session, r.fork)
    return found


def grouped(rows: list[dict[str, Any]], forks: dict[str, tuple[str, int]]) -> list[dict[str, Any]]:
    """Each fork's row right after its main session's (`fork_of`, `fork` added)."""
    for r in rows:
        if r["session"] in forks:
            r["fork_of"], r["fork"] = forks[r["session"]]
    return sorted(rows, key=lambda r: (r.get("fork_of", r["session"]), r.get("fork", 0)))


def row(s: SessionSummary) -> dict[str, Any]:
    from aifo.state.specrecord import read_spec_path

    return {
        "session": s.name,
        "containers": s.containers,
        "running": s.running,
        "networks": s.networks,
        "volumes": s.volumes,
        "state": state_of(s),
        "spec": read_spec_path(s.name),
    }


@click.command("ls")
@output_option("text", "json")
def command(output: str) -> None:
    """List the sessions that have objects on this engine: their containers (running of all),
    networks, volumes, state, and the spec last applied from this machine, when known."""
    import json

    from aifo.engine.choose import connect
    from aifo.ui.table import render

    rows = grouped([row(s) for s in connect().sessions()], forks_of_sessions())
    if output == "json":
        click.echo(json.dumps({"sessions": rows}, indent=2))
        return
    if not rows:
        click.echo("No sessions on this engine.")
        return
    table = [
        [
            f"  └ fork {r['fork']}: {r['session']}" if "fork_of" in r else r["session"],
            f"{r['running']}/{r['containers']}",
            str(r["networks"]),
            str(r["volumes"]),
            r["state"],
            r["spec"] or "",
        ]
        for r in rows
    ]
    headers = ["SESSION", "RUNNING", "NETWORKS", "VOLUMES", "STATE", "SPEC"]
    for line in render(headers, table):
        click.echo(line)
