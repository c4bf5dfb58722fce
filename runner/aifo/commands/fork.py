"""`aifo fork ...`: N copies of a session, each agent in its own clone (docs/fork.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from aifo.commands.options import lock_timeout_option, output_option, profile_option

if TYPE_CHECKING:
    from aifo.commands.forking import Main
    from aifo.engine.git import Git
    from aifo.fork.records import ForkRecord

_WORDS = {"ignore_unknown_options": True, "allow_interspersed_args": False}


@click.group("fork")
def command() -> None:
    """Run the same task in N forks of the session, each in its own clone; merge the best."""


@command.command("new")
@click.argument("count", type=click.IntRange(1, 99), metavar="N")
@click.option("--from", "from_ref", metavar="REF", help="Start from REF instead of HEAD.")
@click.option("--include-dirty", is_flag=True, help="Carry uncommitted changes (a snapshot).")
@click.option("--agent", "agents", multiple=True, metavar="NAME", help="Only this agent (repeat).")
@click.option("--wait", is_flag=True, help="Wait until every fork's containers are healthy.")
@profile_option
@lock_timeout_option
@output_option("text", "json")
def new(
    count: int,
    from_ref: str | None,
    include_dirty: bool,
    agents: tuple[str, ...],
    wait: bool,
    profiles: tuple[str, ...],
    lock_timeout: float,
    output: str,
) -> None:
    """Make N forks (the next free numbers), all or none: clone, branch, containers."""
    from aifo import pipeline
    from aifo.commands import forking
    from aifo.commands.options import session_override, spec_file
    from aifo.engine.git import Git
    from aifo.errors import UsageError
    from aifo.fork import gitsteps, layout, records
    from aifo.fork.derive import derive, includes
    from aifo.fork.transaction import Request, new_forks

    main = forking.main_session()
    spec = spec_file()
    resolved = pipeline.resolve(spec, profiles, session_override())
    git = Git()
    workspace = (resolved.data.get("workspace") or {}).get("path") or resolved.base_dir
    repo = gitsteps.repo_root(git, Path(workspace))
    head = gitsteps.head_commit(git, repo)
    base = gitsteps.resolve_ref(git, repo, from_ref) if from_ref is not None else head
    if include_dirty and base != head:
        raise UsageError("--include-dirty carries changes made on HEAD: it needs --from HEAD")
    engine = pipeline.connect()
    with forking.locked(main, engine, lock_timeout=lock_timeout):
        taken = {r.fork for r in records.read_all(main.folder)}
        numbers: list[int] = []
        for n in range(1, layout.MAX_FORKS + 1):
            if len(numbers) == count:
                break
            if n in taken or layout.clone_path(repo, main.session, n).exists():
                continue
            if gitsteps.branch_exists(git, repo, layout.branch(main.session, n)):
                continue  # the user's branch (or a merged fork's): never touched
            gitsteps.check_branch(git, layout.branch(main.session, n), repo)
            numbers.append(n)
        if len(numbers) < count:
            raise UsageError(f"no {count} free fork numbers (at most {layout.MAX_FORKS})")
        derive(resolved, repo=repo, clone=repo, number=max(numbers), agents=agents)  # checks
        start = base
        if include_dirty:
            main.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            start = gitsteps.snapshot(git, repo, main.folder / "snapshot.index") or base
        request = Request(
            session=main.session, repo=repo, numbers=tuple(numbers), base=start, start=start,
            spec=str(resolved.file), profiles=profiles, agents=agents,
            includes=tuple(includes(resolved, repo)),
        )  # fmt: skip
        steps = forking.engine_steps(engine, resolved, repo, agents, wait=wait)
        made = new_forks(request, main.folder, git=git, steps=steps)
    if output == "json":
        import json

        click.echo(json.dumps({"forks": [r.to_json() for r in made]}, indent=2))
        return
    for r in made:
        click.echo(f"fork {r.fork}: {r.branch} in {r.path}")


@command.command("ls")
@output_option("text", "json")
def ls(output: str) -> None:
    """List the forks: branch, clone, base, commits ahead, uncommitted changes, state."""
    import json

    from aifo import pipeline
    from aifo.commands import forking
    from aifo.engine.git import Git
    from aifo.fork import records

    main = forking.main_session()
    engine = pipeline.connect()
    forking.recover_quietly(main, engine)
    found = records.read_all(main.folder)
    states = _states(engine, [r.fork_session for r in found])
    git = Git()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:  # each fork: a fetch and a status, at once
        rows = list(pool.map(lambda r: _row(main, r, git, states, engine), found))
    if output == "json":
        click.echo(json.dumps({"session": main.session, "forks": rows}, indent=2))
        return
    if not rows:
        click.echo(f"Session {main.session!r} has no forks.")
        return
    from aifo.ui.table import render

    table = [
        [str(r["fork"]), r["branch"], str(r["ahead"]), _yes(r["dirty"]), r["state"], r["path"]]
        for r in rows
    ]
    for line in render(["FORK", "BRANCH", "AHEAD", "DIRTY", "STATE", "PATH"], table):
        click.echo(line)


def _yes(value: object) -> str:
    return "?" if value is None else ("yes" if value else "no")


def _states(engine: Any, names: list[str]) -> dict[str, str]:
    """Each fork session's state, from its labelled containers (what `aifo ls` says of one
    session), asked per session: every engine dialect answers these two calls."""

    def one(name: str) -> str:
        found = engine.labelled(name).containers
        if not found:
            return "no containers"
        running = sum(c.running for c in engine.inspect_containers(list(found.values())))
        if running == len(found):
            return "running"
        return "stopped" if not running else "partly running"

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip(names, pool.map(one, names), strict=True))


def _row(
    main: Main, record: ForkRecord, git: Git, states: dict[str, str], engine: Any
) -> dict[str, Any]:
    from aifo.commands import forking
    from aifo.errors import AifoError
    from aifo.fork.inspect import Reader

    row: dict[str, Any] = {
        "fork": record.fork,
        "branch": record.branch,
        "path": record.path,
        "base": record.base,
        "ahead": None,
        "dirty": None,
        "state": states.get(record.fork_session, "no containers"),
        "created": record.created,
        "session": record.fork_session,
    }
    reader = Reader(git, record, main.folder)
    try:
        forking.refresh(record, engine)
        reader.fetch()
        row["ahead"] = reader.ahead()
        row["dirty"] = bool(reader.changes())
    except AifoError as exc:
        row["error"] = exc.message
    return row


@command.command("diff")
@click.argument("number", type=int, metavar="I")
@click.option("--stat", is_flag=True, help="Only the files changed and their line counts.")
def diff(number: int, stat: bool) -> None:
    """Fork I's committed and uncommitted changes against its base."""
    from aifo.commands import forking
    from aifo.engine.git import Git
    from aifo.fork.inspect import Reader

    main = forking.main_session()
    (record,) = forking.chosen(main, [number])
    forking.refresh(record)
    reader = Reader(Git(), record, main.folder)
    reader.fetch()
    text = reader.diff(stat=stat)
    click.echo(text.rstrip("\n") if text else f"fork {number}: no changes since its base")


@command.command("merge")
@click.argument("number", type=int, metavar="I")
@click.option("--squash", is_flag=True, help="One commit on the current branch.")
@lock_timeout_option
def merge(number: int, squash: bool, lock_timeout: float) -> None:
    """Merge fork I's branch into the main repository's current branch."""
    from aifo import pipeline
    from aifo.commands import forking
    from aifo.engine.git import Git
    from aifo.fork.inspect import Reader
    from aifo.fork.merge import merge as merge_fork

    main = forking.main_session()
    engine = pipeline.connect()
    with forking.locked(main, engine, lock_timeout=lock_timeout):
        (record,) = forking.chosen(main, [number])
        forking.refresh(record, engine)
        git = Git()
        click.echo(merge_fork(git, Reader(git, record, main.folder), squash=squash))


@command.command("rm")
@click.argument("numbers", nargs=-1, metavar="I...")
@click.option("--all", "every", is_flag=True, help="Every fork of the session.")
@click.option("--force", is_flag=True, help="Even with uncommitted or unmerged work.")
@click.option("--yes", "-y", is_flag=True, help="Don't ask (required without a terminal).")
@lock_timeout_option
def rm(numbers: tuple[str, ...], every: bool, force: bool, yes: bool, lock_timeout: float) -> None:
    """Remove forks: containers, networks, volumes, clone, branch aifo/<session>/<I>."""
    from aifo import pipeline
    from aifo.commands import forking
    from aifo.engine.git import Git
    from aifo.errors import EXIT_FAILED, ForkError, UsageError
    from aifo.fork import layout
    from aifo.fork.inspect import Reader
    from aifo.fork.remove import at_risk, remove

    if every == bool(numbers):
        raise UsageError("give fork numbers or --all", hint="aifo fork rm 1 2 | --all")
    main = forking.main_session()
    engine = pipeline.connect()
    with forking.locked(main, engine, lock_timeout=lock_timeout):
        doomed = forking.chosen(main, layout.parse_numbers(numbers), every=every)
        if not doomed:
            click.echo(f"Session {main.session!r} has no forks.")
            return
        git = Git()
        readers = [Reader(git, r, main.folder) for r in doomed]
        if not force:
            for r in doomed:
                forking.refresh(r, engine)
            problems = [p for reader in readers for p in at_risk(git, reader)]
            if problems:
                raise ForkError(
                    "not removing: work would be lost:\n  - " + "\n  - ".join(problems),
                    hint="merge it (`aifo fork merge I`), or pass --force to lose it",
                )
        if not yes:
            if not (sys.stdin.isatty() and sys.stdout.isatty()):
                raise UsageError(
                    f"fork rm would remove {len(doomed)} fork(s) of session {main.session!r}",
                    hint="pass --yes to allow it without a terminal",
                )
            for r in doomed:
                click.echo(
                    f"  - fork {r.fork}: {r.branch}, {r.path}, session {r.fork_session}", err=True
                )
            if not click.confirm("Remove these forks?", default=False, err=True):
                click.echo("Cancelled; nothing was removed.", err=True)
                click.get_current_context().exit(EXIT_FAILED)
        steps = forking.engine_steps(engine, None, None)
        for reader in readers:
            remove(git, reader, steps.destroy)
            click.echo(f"Removed fork {reader.record.fork}.")


@command.command("exec", context_settings=_WORDS)
@click.option("--all", "every", is_flag=True, help="In every fork, in parallel.")
@output_option("text", "json")
@click.argument("words", nargs=-1, type=click.UNPROCESSED, metavar="[I] AGENT [--] CMD...")
def exec_(every: bool, output: str, words: tuple[str, ...]) -> None:
    """Run CMD in AGENT of fork I (or of every fork, in parallel: a table of results)."""
    from aifo.commands import forkexec

    forkexec.run(words, every=every, json_out=output == "json")


@command.command("run", context_settings=_WORDS)
@click.argument("words", nargs=-1, type=click.UNPROCESSED, metavar="I AGENT [--] [ARGS]...")
def run(words: tuple[str, ...]) -> None:
    """Run AGENT's own `run:` command in fork I, interactively."""
    from aifo.commands import forkexec

    forkexec.agent_run(words)


@command.command("shell")
@click.argument("number", type=int, metavar="I")
@click.argument("name", metavar="NAME")
def shell(number: int, name: str) -> None:
    """Open a shell in container NAME of fork I."""
    from aifo.commands import forkexec

    forkexec.shell(number, name)


@command.command("attach")
@click.argument("agent", required=False, metavar="[AGENT]")
@click.option("--print", "dry_run", is_flag=True, help="Print the tmux command; run nothing.")
def attach(agent: str | None, dry_run: bool) -> None:
    """A tmux session with one pane per fork, each running `aifo fork run I AGENT`."""
    from aifo.commands import forkexec

    forkexec.attach(agent, dry_run)
