"""The one exception hierarchy of aifo. `str(error)` is exactly what the user sees.

    AifoError                       exit 1 unless a subclass says otherwise
    ├── UsageError                  exit 2: the command line is wrong
    ├── SpecError                   exit 2: the spec, a profile or .env is invalid (every Issue)
    ├── StateError                  exit 1: the state directory, journal or lock is unusable
    │   └── LockTimeout             exit 1: another aifo holds the session lock
    ├── EngineError                 exit 1: Docker refused or failed an operation
    │   ├── EngineUnavailable       the daemon cannot be reached
    │   ├── NotFound                the object does not exist
    │   ├── Conflict                the name is taken, or the object is in use
    │   ├── ImageMissing            the image is not present and may not be pulled or built
    │   └── VerificationFailed      an object exists but is not what was declared (fail closed)
    ├── PlanError                   exit 1: Docker's state forbids the plan (e.g. an unowned name)
    ├── NotApplied                  exit 1: the session or container is not there or not running
    └── ApplyFailed                 exit 1: apply failed and was rolled back; carries both stories

Foreign exceptions are translated at the boundary: ``raise NotFound(...) from exc``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aifo.location import Location

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_CHANGES = 3
EXIT_INTERRUPTED = 130  # Ctrl-C (or SIGTERM during destroy) outside a transaction


class AifoError(Exception):
    """Base of every expected aifo error. Catch this, print `str(e)`, exit with `e.exit_code`."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class UsageError(AifoError):
    """The command line is wrong. Run the command with --help."""

    exit_code = EXIT_INVALID


@dataclass(frozen=True, order=True)
class Issue:
    """One located problem in the user's input: `FILE:LINE:COL: path: message`."""

    location: Location | None
    path: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        what = f"{self.path}: " if self.path else ""
        text = f"{where}{what}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location
        return (loc.file, loc.line, loc.col, self.path) if loc else ("", 0, 0, self.path)


class SpecError(AifoError):
    """The spec is invalid. Fix each listed FILE:LINE:COL and run `aifo validate` again."""

    exit_code = EXIT_INVALID

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues: tuple[Issue, ...] = tuple(sorted(issues, key=Issue.sort_key))
        super().__init__("\n".join(str(i) for i in self.issues) or "invalid spec")

    def __str__(self) -> str:
        return self.message

    @classmethod
    def single(
        cls, location: Location | None, path: str, message: str, hint: str | None = None
    ) -> SpecError:
        return cls([Issue(location, path, message, hint)])


class StateError(AifoError):
    """The state directory, journal or lock cannot be used. Check its permissions."""


class LockTimeout(StateError):
    """Another aifo process holds the session lock. Wait for it or stop it."""


class EngineError(AifoError):
    """Docker refused or failed an operation."""


class EngineUnavailable(EngineError):
    """The Docker daemon cannot be reached. Start it (the hint names the command here)."""


class NotFound(EngineError):
    """A Docker object does not exist."""


class Conflict(EngineError):
    """A Docker name is taken, or the object is in use."""


class ImageMissing(EngineError):
    """The image is not present locally and may not be pulled or built."""


class VerificationFailed(EngineError):
    """An object exists but does not match its declaration; aifo fails closed."""


class PlanError(AifoError):
    """Docker's current state forbids the plan, e.g. a name owned by someone else."""


class NotApplied(AifoError):
    """The session or container is not there or not running. Run `aifo apply` first."""


class ApplyFailed(AifoError):
    """Apply failed; every recorded step was undone. Lists the cause and any undo failures."""

    def __init__(self, cause: BaseException, undo_failures: Sequence[str] = ()) -> None:
        self.cause = cause
        self.undo_failures = tuple(undo_failures)
        lines = [f"apply failed: {cause}", "rolled back: Docker is as it was before this apply"]
        if self.undo_failures:
            lines[1] = "rollback was incomplete; these undo steps failed:"
            lines += [f"  - {f}" for f in self.undo_failures]
        super().__init__("\n".join(lines))
