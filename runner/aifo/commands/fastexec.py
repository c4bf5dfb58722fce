"""`aifo exec` without the command line's cost: for the plain form only
(`aifo [-f FILE] [--session NAME] exec [FILE] NAME [-u U] [-w W] [-e K=V] [--] CMD...`), with the
session already compiled and cached (aifo.attach.cache). Anything else, and any problem before
the command starts, returns None: the full command line then does the same work and reports.

Two ways, lightest first:
- quick: a container that needs nothing of the spec (no secrets, no routes), located before,
  Docker on a unix socket: the cache's index and the remembered container id are
  enough, and the exec goes straight to the socket (aifo.engine.quickexec). Nothing heavier than
  json, socket and hashlib is loaded; this is what makes `aifo exec` cost about `docker exec`.
- cached: the compiled session is unpickled and the exec runs exactly as `aifo exec` runs it
  (aifo.commands.attaching.exec_in): secrets, routes, Podman.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

TYPE_CHECKING = False  # not typing's: this path does not load typing (mypy knows the name)
if TYPE_CHECKING:
    from aifo.attach.execargs import ExecArgs
    from aifo.attach.lookup import Target


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
        elif spec is not None and spec != value:
            return None  # specs layered with several -f: the full command line merges them
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
        from aifo.attach.execargs import parse_env, split_exec_args
        from aifo.discovery import check_session, spec_path, split_target

        given, name, rest = split_target(words, file_given=spec_opt is not None)
        parsed = split_exec_args(rest)
        spec = spec_path(given if given is not None else spec_opt)
        override = check_session(session) if session else None
        extra = parse_env(parsed.env)
    except Exception:  # noqa: BLE001 - unsure: the full command line redoes it and reports
        return None
    if name is None:
        return None
    code = _quick(spec, override, name, parsed, extra)
    if code is not None:
        return code
    return _cached(spec, override, name, parsed, extra)


def _quick(
    spec: str, session: str | None, name: str, parsed: ExecArgs, extra: Mapping[str, str]
) -> int | None:
    try:
        from aifo.attach.cache import exec_ticket
        from aifo.attach.execargs import terminal
        from aifo.engine.choose import quick_exec

        term = terminal()
        engine = quick_exec()
        ticket = None if engine is None else exec_ticket(spec, session, name)
    except Exception:  # noqa: BLE001 - unsure: the longer way redoes it and reports
        return None
    if engine is None or ticket is None or ticket.stale:
        return None  # the longer way warns about a stale container, once
    from aifo.attach import signals
    from aifo.errors import EngineError, EngineUnavailable

    try:
        return signals.run(
            engine, ticket.ref, parsed.cmd, user=parsed.user, workdir=parsed.workdir, env=extra,
            tty=term.tty, interactive=term.interactive, marker=signals.new_marker(),
        )  # fmt: skip
    except EngineUnavailable as exc:
        return _report(exc)
    except EngineError:
        # The exec create refused the remembered container (404: gone, 409: not running):
        # nothing ran. The longer way looks again, and reports in today's words.
        return None
    except KeyboardInterrupt:
        return _interrupted()


def _cached(
    spec: str, session: str | None, name: str, parsed: ExecArgs, extra: Mapping[str, str]
) -> int | None:
    try:
        from aifo.attach.cache import lookup, recall, remember
        from aifo.attach.lookup import find_container, locate

        compiled = lookup(spec, (), session)
        if compiled is None:
            return None
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
    from aifo.attach.lookup import stale_warning
    from aifo.commands.attaching import Attached, exec_in
    from aifo.errors import AifoError, EngineError, EngineUnavailable

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
    except AifoError as exc:
        return _report(exc)
    except KeyboardInterrupt:
        return _interrupted()


def _report(exc: Exception) -> int:
    """As aifo.cli reports an AifoError."""
    from aifo.errors import EXIT_FAILED, AifoError

    print(f"error: {exc}", file=sys.stderr)
    return exc.exit_code if isinstance(exc, AifoError) else EXIT_FAILED


def _interrupted() -> int:
    from aifo.errors import EXIT_INTERRUPTED

    print("interrupted", file=sys.stderr)
    return EXIT_INTERRUPTED
