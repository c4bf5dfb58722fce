"""`aifo workspace pull`: the session's workspace branch back from its volume on a node
elsewhere (docs/swarm.md, "The workspace on a node")."""

from __future__ import annotations

import click

from aifo.commands.options import lock_timeout_option, profile_option


@click.group("workspace")
def command() -> None:
    """The session's workspace where it is a clone in a volume (a Swarm node elsewhere)."""


@command.command("pull")
@profile_option
@lock_timeout_option
def pull(profiles: tuple[str, ...], lock_timeout: float) -> None:
    """Fetch branch aifo/<session>/workspace from the workspace's volume into the repository."""
    from pathlib import Path

    from aifo import pipeline
    from aifo.commands import forking
    from aifo.commands.options import session_override, spec_file
    from aifo.compile.workspace import WORKSPACE_VOLUME
    from aifo.engine.git import Git
    from aifo.fork import gitsteps
    from aifo.fork.bringback import pull_workspace
    from aifo.model import docker_name

    main = forking.main_session()
    resolved = pipeline.resolve(spec_file(), profiles, session_override())
    git = Git()
    workspace = (resolved.data.get("workspace") or {}).get("path") or resolved.base_dir
    repo = gitsteps.repo_root(git, Path(workspace))
    engine = pipeline.connect()
    with forking.locked(main, engine, lock_timeout=lock_timeout):
        volume = docker_name(main.session, WORKSPACE_VOLUME)
        click.echo(
            pull_workspace(git, engine, main.folder, session=main.session, repo=repo, volume=volume)
        )
