"""Render `aifo status` rows: a rich table on a terminal, plain lines otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click


def _difference(d: dict[str, Any]) -> str:
    """`field: expected X, found Y` (a bare reason, e.g. `config changed`, when that is all)."""
    from aifo.plan.compare import show

    if "expected" not in d:
        return str(d["field"])
    return f"{d['field']}: expected {show(d['expected'])}, found {show(d['found'])}"


_PLAIN = ("kind", "name", "resource", "state")


def status_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Plain lines in aligned columns (as `docker ps` prints), a header first; each difference
    on its own line under its row."""
    cells = [[str(r.get(k) or "-") for k in _PLAIN] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(_PLAIN)]
    out = ["  ".join(k.upper().ljust(w) for k, w in zip(_PLAIN, widths, strict=True)).rstrip()]
    for r, row in zip(rows, cells, strict=True):
        extra = [str(r[k]) for k in ("health", "note") if r.get(k)]
        if r.get("drift"):
            extra.insert(0, "drift")
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
        out.append(f"{line}  {', '.join(extra)}".rstrip())
        out += [f"  {_difference(d)}" for d in r.get("differences") or ()]
    return out


def render_status(name: str, rows: Sequence[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not rows:
        console.print(f"Session {name!r}: nothing in Docker.", highlight=False)
        return
    if not console.is_terminal:
        for line in status_lines(rows):
            click.echo(line)
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
