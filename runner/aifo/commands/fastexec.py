"""`aifo exec` without the command line's cost: for the plain form only
(`aifo [-f FILE] [--session NAME] exec [FILE] NAME [-u U] [-w W] [-e K=V] [--] CMD...`), with the
session already compiled and cached (aifo.attachcache). Anything else, and any problem before
the command starts, returns None: the full command line then does the same work and reports.
The exec itself runs exactly as `aifo exec` runs it (aifo.commands.attaching.exec_in).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aifo.attach import Target


def _globals(args: Sequence[str]) -> tuple[str | None, str | None, int] | None:
    """(-f FILE, --session NAME, index of the subcommand), or None for anything unusual."""
    spec: str | None = None
    session: str | None = None
    i = 0
    while i < len(args) and args[i].startswith("-"):
        word = args[i]
        if word in ("-f", "--file", "--session") and i + 1 < len(args):
            value = args[i + 1]
            i += 2
        elif word.startswith(("--file=", "--session=")):
            word, _, value = word.partition("=")
            i += 1
        else:
            return None
        if word == "--session":
            session = value
        else:
            spec = value
    return spec, session, i


def try_exec(args: Sequence[str]) -> int | None:
    found = _globals(args)
    if found is None:
        return None
    spec_opt, session, i = found
    if i >= len(args) or args[i] != "exec":
        return None
    words = list(args[i + 1 :])
    if not words or words[0].startswith("-"):
        return None  # exec's own options before NAME (--profile, ...): the full path
    try:
        from aifo.attach import find_container, locate, parse_env, split_exec_args
        from aifo.attachcache import lookup, recall, remember
        from aifo.discovery import check_session, find_spec, split_target

        given, name, rest = split_target(words, file_given=spec_opt is not None)
        parsed = split_exec_args(rest)
        spec = str(find_spec(given if given is not None else spec_opt))
        override = check_session(session) if session else None
        compiled = lookup(spec, (), override)
        if compiled is None or name is None:
            return None
        extra = parse_env(parsed.env)
        container = find_container(compiled, name)
        from aifo.engine.choose import connect

        engine = connect()
        target = recall(compiled, container)  # known: the exec create is the only check
        recalled = target is not None
        if target is None:
            target = locate(engine, compiled, name, spec)
            remember(compiled, target)
    except Exception:  # noqa: BLE001 - unsure: the full command line redoes it and reports
        return None
    import sys

    from aifo.attach import stale_warning
    from aifo.commands.attaching import Attached, exec_in
    from aifo.errors import EXIT_INTERRUPTED, AifoError, EngineError, EngineUnavailable

    warned = False

    def run(target: Target) -> int:
        nonlocal warned
        warning = stale_warning(target, spec)
        if warning and not warned:
            print(warning, file=sys.stderr)
            warned = True
        return exec_in(
            Attached(engine, compiled, target),
            parsed.cmd,
            user=parsed.user,
            workdir=parsed.workdir,
            extra_env=extra,
        )

    try:
        try:
            return run(target)
        except EngineError as exc:
            if not recalled or isinstance(exc, EngineUnavailable):
                raise
            # The exec create refused the remembered container (404: gone, 409: not running):
            # nothing ran. Look again; a recreated container gets the exec, else the full
            # command line reports what `locate` finds, in today's words.
            try:
                fresh = locate(engine, compiled, container.name, spec)
            except AifoError:
                return None
            if fresh.ref == target.ref:
                raise
            remember(compiled, fresh)
            return run(fresh)
    except AifoError as exc:  # as aifo.cli reports it
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
