"""Render a plan: a rich table on a terminal, plain lines otherwise, or JSON."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from aifo.plan.planner import Plan, PlanAction

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

RUN = "»"  # a hook's mark: it runs a command, it creates nothing

_STYLE = {
    "create": "green",
    "replace": "yellow",
    "update": "yellow",
    "start": "cyan",
    "remove": "red",
    "noop": "dim",
}


def _reasons(action: PlanAction) -> str:
    """The reasons: each changed field old → new, and for drift each field with what the spec
    expects and what Docker has (one per line)."""
    lines = list(action.changes)
    lines += [f"drift: {line}" for line in action.detail_lines()]
    if not lines:
        lines = [", ".join(action.reasons)]
    elif "image" in action.reasons:
        lines.append("image")
    return "\n".join(lines)


def _hook(action: PlanAction) -> tuple[str, str]:
    """A hook's row: (`hook NAME`, `in CONTAINER`): a command that runs, not a resource."""
    _, container, name = action.id.split("/", 2)
    return f"hook {name}", f"runs in {container}"


def _where(action: PlanAction) -> str:
    """The Docker name, when it says more than the id (an image's is its own ref)."""
    return "" if action.id.split("/", 1)[-1] == action.docker_name else action.docker_name


def plan_table(plan: Plan) -> Table:
    from rich.table import Table
    from rich.text import Text

    # nothing cut at 80 columns: long cells fold onto more lines; the Docker name sits under
    # the resource (it is aifo-<session>-<name>) rather than in a column of its own
    table = Table(title=f"Plan for session {plan.session!r}", title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("resource", overflow="fold")
    table.add_column("why", overflow="fold")
    for action in plan.changes:
        style = _STYLE[action.op]
        if action.kind == "hook":
            what, where = _hook(action)
            resource = Text(what, style="cyan")
            resource.append(f"\n{where}", style="dim")
            table.add_row(Text(RUN, style="bold cyan"), resource, Text(_reasons(action), "dim"))
            continue
        resource = Text(action.id, style=style)
        if _where(action):
            resource.append(f"\n{_where(action)}", style="dim")
        table.add_row(
            Text(action.symbol, style=f"bold {style}"),
            resource,
            Text(_reasons(action), style="dim" if action.op == "create" else ""),
        )
    return table


def plan_lines(plan: Plan) -> list[str]:
    lines = [f"Plan for session {plan.session!r}: {plan.summary()}"]
    for action in plan.changes:
        why = f": {', '.join(action.reasons)}" if action.reasons else ""
        if action.kind == "hook":
            what, where = _hook(action)
            lines.append(f"  {RUN} {'run':<7} {what} ({where}){why}")
            continue
        where = f" ({_where(action)})" if _where(action) else ""
        lines.append(f"  {action.symbol} {action.op:<7} {action.id}{where}{why}")
        lines += [f"      {line}" for line in action.changes]
        lines += [f"      drift: {line}" for line in action.detail_lines()]
    return lines


_DONE = {
    "create": "created",
    "replace": "replaced",
    "update": "updated",
    "start": "started",
    "remove": "removed",
}


def done_summary(plan: Plan, duration_s: float, *, waited: bool = False) -> str:
    """The one closing line of an apply, in the past tense."""
    counts = dict.fromkeys(_DONE, 0)
    for action in plan.changes:
        if action.kind != "hook":
            counts[action.op] += 1
    done = [f"{_DONE[op]} {counts[op]}" for op in _DONE if counts[op]]
    if plan.hooks_to_run():
        done.append(f"ran {plan.hooks_to_run()} hook{'s' if plan.hooks_to_run() > 1 else ''}")
    ready = "; every container ready" if waited else ""
    what = ", ".join(done) if done else "no changes"
    return f"Applied session {plan.session!r} in {duration_s:.1f}s: {what}{ready}."


def no_changes(plan: Plan) -> str:
    return f"Session {plan.session!r}: no changes."


def write_plan(plan: Plan, out: TextIO | None = None) -> None:
    """Plain text, without rich (not a terminal: keeps a no-op apply light)."""
    out = out or sys.stdout
    lines = plan_lines(plan) if plan.has_changes else [no_changes(plan)]
    out.write("\n".join(lines) + "\n")


def render_plan(console: Console, plan: Plan) -> None:
    if not plan.has_changes:
        console.print(no_changes(plan), highlight=False)
        return
    if console.is_terminal:
        console.print(plan_table(plan))
        console.print(plan.summary(), highlight=False)
    else:
        for line in plan_lines(plan):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
