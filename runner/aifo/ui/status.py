"""Render `aifo status` rows: a rich table on a terminal, plain lines otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click


def _difference(d: dict[str, Any]) -> str:
    """`field: expected X, found Y` (a bare field, e.g. `config-hash`, when that is all)."""
    from aifo.plan.compare import show

    if "expected" not in d:
        return str(d["field"])
    return f"{d['field']}: expected {show(d['expected'])}, found {show(d['found'])}"


def render_status(name: str, rows: Sequence[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not rows:
        console.print(f"Session {name!r}: nothing in Docker.", highlight=False)
        return
    if not console.is_terminal:
        for r in rows:
            drifted = " drift" if r.get("drift") else ""
            extra = "".join(f" {r[k]}" for k in ("health", "note") if r.get(k))
            click.echo(f"{r['kind']:<9} {r['name']} {r['resource']} {r['state']}{drifted}{extra}")
            for d in r.get("differences") or ():
                click.echo(f"          {_difference(d)}")
        return
    # at 80 columns nothing is cut: cells fold, empty columns are left out, kind and health
    # ride along with the resource and the state
    cells = [
        {
            "resource": r["resource"] or r["kind"],
            "docker name": r["name"],
            "state": r["state"] + (f" ({r['health']})" if r.get("health") else ""),
            "drift": "; ".join(map(_difference, r["differences"]))
            if r.get("differences")
            else ("yes" if r.get("drift") else ""),
            "note": r.get("note") or "",
        }
        for r in rows
    ]
    table = Table(title=f"Session {name!r}", title_justify="left")
    columns = [c for c in cells[0] if any(row[c] for row in cells)]
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in cells:
        table.add_row(*(row[c] for c in columns))
    console.print(table)
