"""Render the security summary (aifo.plan.security) that ends `aifo plan`: on a terminal a table
when it fits, else one block per container (a narrow terminal); plain lines otherwise (pipes, CI
logs: nothing wraps or needs box-drawing); or JSON.

Hosts, paths and secret names are never cut: a reviewer must read them whole. rich cuts a cell
with `…` when a six-column table is squeezed into 80 or 100 columns, so there the table gives way
to blocks whose values wrap between items and, only for a single word longer than the line,
fold it onto the next line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from aifo.plan.security import ContainerSecurity


def _network_cell(item: ContainerSecurity) -> Text:
    if item.egress:
        return Text("egress: " + ", ".join(item.egress_networks), style="yellow")
    if item.internal_networks:
        return Text("internal only: " + ", ".join(item.internal_networks), style="green")
    return Text("none", style="green")


def _egress_cell(item: ContainerSecurity) -> Text:
    style = "yellow" if item.egress else ("cyan" if item.egress_allow is not None else "green")
    return Text(item.reach, style=style)


def _host_cell(item: ContainerSecurity) -> Text:
    return Text(item.host, style="yellow" if item.host != "none" else "green")


def _list_cell(values: Sequence[str], *, style: str = "") -> Text:
    return Text("\n".join(values), style=style) if values else Text("-", style="dim")


def _privilege_cell(item: ContainerSecurity) -> Text:
    parts: list[tuple[str, str]] = []
    if item.privileged:
        parts.append(("PRIVILEGED", "bold red"))
    if item.docker_socket:
        parts.append(("docker.sock", "bold red"))
    if item.cap_add:
        parts.append(("+" + ",".join(item.cap_add), "yellow"))
    if not item.drops_all_caps:
        parts.append(("default caps", "yellow"))
    if not item.no_new_privileges:
        parts.append(("new privileges allowed", "yellow"))
    if item.credential_paths:
        parts.append(("credentials: " + ", ".join(item.credential_paths), "bold red"))
    if item.program_env:
        parts.append(("program env: " + ",".join(item.program_env), "yellow"))
    if item.runs_as_root:
        parts.append(("root/image user", "dim"))
    parts += [(f"hook {name} as root", "yellow") for name in item.root_hooks]
    if not parts:
        return Text("minimal", style="green")
    text = Text()
    for i, (label, style) in enumerate(parts):
        if i:
            text.append("\n")
        text.append(label, style=style)
    return text


def security_table(summary: Sequence[ContainerSecurity]) -> Table:
    table = Table(title="Security summary", title_justify="left", show_lines=False)
    table.add_column("container", no_wrap=True)
    table.add_column("networks")
    table.add_column("egress")
    table.add_column("host")
    table.add_column("writable host paths")
    table.add_column("secrets (names)")
    table.add_column("privileges")
    for item in summary:
        table.add_row(
            item.container,
            _network_cell(item),
            _egress_cell(item),
            _host_cell(item),
            _list_cell(item.writable_host_paths, style="yellow"),
            _list_cell(item.secrets),
            _privilege_cell(item),
        )
    return table


def security_blocks(summary: Sequence[ContainerSecurity]) -> Group:
    """One block per container, `label  values` (one value a line): fits any width, cuts
    nothing."""
    parts: list[RenderableType] = [Text("Security summary", style="italic")]
    for item in summary:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(overflow="fold")  # a word longer than the line folds, never `…`
        egress = (
            Text("\n".join([f"only via {item.egress_via}:", *item.egress_allow]), style="cyan")
            if item.egress_allow and not item.egress
            else _egress_cell(item)
        )
        rows = [
            ("networks", _network_cell(item)),
            ("egress", egress),
            ("writable host paths", _list_cell(item.writable_host_paths, style="yellow")),
            ("secrets (names)", _list_cell(item.secrets)),
            ("privileges", _privilege_cell(item)),
        ]
        for label, value in rows:
            grid.add_row(label, value)
        parts += [Text(item.container, style="bold"), grid]
    return Group(*parts)


def _fits(console: Console, table: Table) -> bool:
    """Whether every cell gets its natural width (measured without the console's limit, which
    a table's measurement is clamped to)."""
    unbounded = console.options.update_width(1_000_000)
    return Measurement.get(console, unbounded, table).maximum <= console.width


def security_renderable(
    summary: Sequence[ContainerSecurity], console: Console | None = None
) -> RenderableType:
    """The table (blocks when it would not fit `console`) plus one warning line per risk; a
    note when there is nothing."""
    if not summary:
        return Text("Security summary: no containers", style="dim")
    warnings = [
        Text(f"warning: {item.container}: {risk}", style="bold yellow")
        for item in summary
        for risk in item.risks
    ]
    table = security_table(summary)
    shown = table if console is None or _fits(console, table) else security_blocks(summary)
    return Group(shown, *warnings)


def security_lines(summary: Sequence[ContainerSecurity]) -> list[str]:
    """The same facts as the table, one `label: values` line each, then the warnings."""
    if not summary:
        return ["Security summary: no containers"]
    lines = ["Security summary:"]
    for item in summary:
        privileges = _privilege_cell(item).plain.replace("\n", ", ")
        lines += [
            f"  {item.container}",
            f"    networks: {_network_cell(item).plain}",
            f"    egress: {item.reach}",
            f"    host: {item.host}",
            f"    writable host paths: {', '.join(item.writable_host_paths) or '-'}",
            f"    secrets (names): {', '.join(item.secrets) or '-'}",
            f"    privileges: {privileges}",
        ]
    lines += [f"warning: {item.container}: {risk}" for item in summary for risk in item.risks]
    return lines


def render_security(console: Console, summary: Sequence[ContainerSecurity]) -> None:
    if console.is_terminal:
        console.print(security_renderable(summary, console))
        return
    for line in security_lines(summary):
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def security_json(summary: Sequence[ContainerSecurity]) -> list[dict[str, Any]]:
    """Plain data for `--output json` (names only; never a secret's value)."""
    return [
        {
            "container": item.container,
            "egress": item.egress,
            "egress_networks": list(item.egress_networks),
            "reach": item.reach,
            "egress_allow": None if item.egress_allow is None else list(item.egress_allow),
            "egress_via": item.egress_via,
            "internal_networks": list(item.internal_networks),
            "host": item.host,
            "host_networks": list(item.host_networks),
            "routes_to": list(item.routes_to),
            "routed_egress": list(item.routed_egress),
            "routed_allow": list(item.routed_allow),
            "routed_host": list(item.routed_host),
            "writable_host_paths": list(item.writable_host_paths),
            "read_only_host_paths": list(item.read_only_host_paths),
            "secrets": list(item.secrets),
            "cap_add": list(item.cap_add),
            "drops_all_caps": item.drops_all_caps,
            "no_new_privileges": item.no_new_privileges,
            "privileged": item.privileged,
            "docker_socket": item.docker_socket,
            "runs_as_root": item.runs_as_root,
            "root_hooks": list(item.root_hooks),
            "published_ports": list(item.published_ports),
            "credential_paths": list(item.credential_paths),
            "program_env": list(item.program_env),
            "risks": list(item.risks),
        }
        for item in summary
    ]
