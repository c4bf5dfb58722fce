"""Render the security summary (aifo.plan.security) that ends `aifo plan`: a table on a terminal,
plain lines otherwise (pipes, CI logs: nothing wraps or needs box-drawing), or JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
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


def security_renderable(summary: Sequence[ContainerSecurity]) -> RenderableType:
    """The table plus one warning line per risky container; a note when there is nothing."""
    if not summary:
        return Text("Security summary: no containers", style="dim")
    warnings = [
        Text(f"warning: {item.container}: {risk}", style="bold yellow")
        for item in summary
        for risk in item.risks
    ]
    return Group(security_table(summary), *warnings)


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
        console.print(security_renderable(summary))
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
