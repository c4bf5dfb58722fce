"""`aifo exec` without the command line's cost: for the plain form only
(`aifo [-f FILE] [--session NAME] exec [FILE] NAME [-u U] [-w W] [-e K=V] [--] CMD...`), with the
session already compiled and cached (aifo.attach.cache). Anything else, and any problem before
the command starts, returns None: the full command line then does the same work and reports.

One way: a container that needs nothing of the spec (no secrets, no routes), located before,
Docker on a unix socket: the cache's plain-data index and the remembered container id are enough,
and the exec goes straight to the socket (aifo.engine.quickexec). Nothing heavier than json,
socket and hashlib is loaded; this is what makes `aifo exec` cost about `docker exec`. Secrets,
routes and Podman take the full command line, which compiles the spec (nothing compiled is ever
loaded from disk: docs/security.md).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

TYPE_CHECKING = False  # not typing's: this path does not load typing (mypy knows the name)
if TYPE_CHECKING:
    from aifo.attach.execargs import ExecArgs


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
    return _quick(spec, override, name, parsed, extra)


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


def _report(exc: Exception) -> int:
    """As aifo.cli reports an AifoError."""
    from aifo.errors import EXIT_FAILED, AifoError

    print(f"error: {exc}", file=sys.stderr)
    return exc.exit_code if isinstance(exc, AifoError) else EXIT_FAILED


def _interrupted() -> int:
    from aifo.errors import EXIT_INTERRUPTED

    print("interrupted", file=sys.stderr)
    return EXIT_INTERRUPTED
