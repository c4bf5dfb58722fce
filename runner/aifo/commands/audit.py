"""`aifo audit [FILE]`: the session's audit log (routed commands, egress decisions, ...)."""

from __future__ import annotations

from typing import Any

import click

from aifo.commands.options import output_option, profile_option, spec_argument


def _shown(value: Any) -> str:
    """`value` for a terminal: control characters (an escape sequence in an argv) escaped."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _text(entry: dict[str, Any]) -> str:
    """One line per record: time, kind, then the kind's fields (`route`: a readable command)."""
    return _shown(_line(entry))


def _line(entry: dict[str, Any]) -> str:
    head = f"{entry.get('time', '?')}  {entry.get('kind', '?')}"
    if entry.get("kind") == "route":
        argv = " ".join(str(a) for a in entry.get("argv") or ())
        if entry.get("reason"):
            argv = f"{argv}  ({entry['reason']})".lstrip()
        took = entry.get("duration_s")
        took_text = f"{took:.3f}s" if isinstance(took, int | float) else "?"
        return (
            f"{head}  {entry.get('agent', '?')} -> {entry.get('toolchain', '?')}"
            f"  exit={entry.get('exit_code', '?')}  {took_text}  cwd={entry.get('cwd', '?')}"
            f"  {argv}"
        )
    rest = "  ".join(f"{k}={v}" for k, v in entry.items() if k not in ("time", "kind"))
    return f"{head}  {rest}"


def _collect_egress(session: str, kinds: tuple[str, ...]) -> None:
    """Take the egress proxy's new decisions into the log first (docs/egress.md); without an
    engine the log is shown as it is, with a note."""
    if kinds and "egress" not in kinds:
        return
    from aifo import pipeline
    from aifo.egress.collect import collect
    from aifo.errors import AifoError

    try:
        collect(pipeline.connect(), session, pipeline.session_dir(session, create=False))
    except (AifoError, OSError) as exc:
        click.echo(f"note: egress decisions not collected: {exc}", err=True)


@click.command("audit")
@spec_argument
@profile_option
@click.option("--kind", "kinds", multiple=True, metavar="KIND", help="Only this kind (repeat).")
@output_option("text", "json")
def command(
    spec_file: str | None,
    session_name: str | None,
    profiles: tuple[str, ...],
    kinds: tuple[str, ...],
    output: str,
) -> None:
    """Print the audit log of the session (of the spec, or --session NAME), oldest first
    (kinds: route, egress, ...).

    The log is `<state dir>/sessions/<session>/audit.jsonl` (JSON Lines); secret values are
    never in it.
    """
    import json

    from aifo.commands.options import session_override
    from aifo.commands.options import spec_file as find_spec_file
    from aifo.sessionspec import resolve
    from aifo.state import audit

    session = session_override(session_name) or str(
        resolve(find_spec_file(spec_file), profiles).data["session"]
    )
    _collect_egress(session, kinds)
    skipped = [0]
    entries = audit.read(session, kinds=kinds, skipped=skipped)
    if output == "json":
        click.echo(json.dumps(list(entries), indent=2, ensure_ascii=False))
    else:
        for entry in entries:
            click.echo(_text(entry))
    if skipped[0]:  # never silently: a line that is not a record is someone's doing
        click.echo(
            f"note: {skipped[0]} line(s) of {audit.audit_path(session)} are not audit records "
            "(torn, oversized or not aifo's) and were skipped",
            err=True,
        )
