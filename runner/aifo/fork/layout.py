"""Names and places of a fork: its session, branch, clone folder and state files (pure)."""

from __future__ import annotations

from pathlib import Path

from aifo.errors import UsageError

MAX_FORKS = 99  # a fork session's name is `<session>-f<I>`; two digits keep it short


def fork_session(session: str, number: int) -> str:
    return f"{session}-f{number}"


def branch(session: str, number: int) -> str:
    return f"aifo/{session}/{number}"


def forks_folder(repo: Path) -> Path:
    """Beside the repository, never inside it (docs/fork.md says why)."""
    return repo.parent / f"{repo.name}.aifo-forks"


def clone_path(repo: Path, session: str, number: int) -> Path:
    return forks_folder(repo) / fork_session(session, number)


def state_folder(root: Path, session: str) -> Path:
    """`<state>/forks/<session>/`: outside the session's own folder, which `destroy` forgets."""
    return root / "forks" / session


def check_number(number: int) -> int:
    if not 1 <= number <= MAX_FORKS:
        raise UsageError(f"fork number {number} is out of range 1-{MAX_FORKS}")
    return number


def parse_numbers(values: tuple[str, ...]) -> list[int]:
    """Fork numbers from the command line; each at most once."""
    numbers: list[int] = []
    for value in values:
        try:
            number = int(value)
        except ValueError:
            raise UsageError(f"{value!r} is not a fork number", hint="see `aifo fork ls`") from None
        check_number(number)
        if number in numbers:
            raise UsageError(f"fork {number} is given twice")
        numbers.append(number)
    return numbers
