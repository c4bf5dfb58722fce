"""`aifo recover`: finish an apply that died (SIGKILL, power loss) from its journal."""

from __future__ import annotations

from pathlib import Path

import click

from aifo.commands.options import lock_timeout_option


@click.command("recover")
@click.argument("target", metavar="[FILE|JOURNAL]", required=False)
@click.option("--session", "session_name", metavar="NAME", help="Recover this session.")
@lock_timeout_option
def command(target: str | None, session_name: str | None, lock_timeout: float) -> None:
    """Roll back the unfinished apply of a session (or finish it, when it had committed).

    Give the session's spec FILE (default: the nearest aifo.yaml), a journal file
    (`journal.jsonl`), or --session NAME. Only the journal and Docker are used: the spec may be
    gone. Other commands do this by themselves.
    """
    from aifo import pipeline
    from aifo.apply.hold import locked
    from aifo.apply.journal import journal_path, load
    from aifo.apply.recover import announce, recover

    journal: Path | None = None
    if target and target.endswith(".jsonl"):
        from aifo.discovery import check_session

        journal = Path(target)
        name = check_session(load(journal).session)  # ours, private, well formed (or refused)
    else:
        from aifo.commands.options import layers_under, session_override
        from aifo.commands.options import spec_file as find_spec_file

        session_name = session_override(session_name)
        name = session_name or pipeline.session_of(find_spec_file(target), None, layers_under())
        _finish_fork_new(name, lock_timeout)  # a session named: its `fork new` too
        journal = journal_path(pipeline.session_dir(name))
    if not journal.exists() and not journal.is_symlink():
        click.echo(f"Session {name!r}: nothing to recover.")
        return
    engine = pipeline.connect()
    with locked(
        engine, name, command="recover", notify=lambda m: click.echo(m, err=True),
        lock_timeout=lock_timeout,
    ):  # fmt: skip
        if not journal.exists() and not journal.is_symlink():  # finished by the lock's holder
            click.echo(f"Session {name!r}: nothing to recover.")
            return
        click.echo(announce(load(journal, name)), err=True)
        result = recover(engine, journal, name)
    click.echo(result.message())
    if result.failures:
        click.get_current_context().exit(1)


def _finish_fork_new(name: str, lock_timeout: float) -> None:
    """A `fork new` of the session that died (aifo.fork.transaction): finished under its lock."""
    from aifo import pipeline
    from aifo.apply.journal import journal_path
    from aifo.commands import forking
    from aifo.fork.layout import state_folder
    from aifo.state.folder import state_root

    main = forking.Main(name, state_folder(state_root(), name))
    if journal_path(main.folder).exists():
        with forking.locked(main, pipeline.connect(), lock_timeout=lock_timeout):
            pass  # taking the forks' lock finishes what is left
