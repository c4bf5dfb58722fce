"""The one exception hierarchy of aifo. `str(error)` is exactly what the user sees.

    AifoError                       exit 1 unless a subclass says otherwise
    ├── UsageError                  exit 2: the command line is wrong
    ├── SpecError                   exit 2: the spec, a profile or .env is invalid (every Issue)
    ├── StateError                  exit 1: the state directory, journal or lock is unusable
    │   ├── LockTimeout             exit 1: another aifo holds the session lock
    │   └── JournalRefused          exit 1: a journal aifo will not run (not its own, malformed)
    ├── SecretMissing               exit 1: a required secret has no value
    ├── EngineError                 exit 1: Docker refused or failed an operation
    │   ├── EngineUnavailable       the daemon cannot be reached
    │   ├── NotFound                the object does not exist
    │   ├── Conflict                the name is taken, or the object is in use
    │   │   └── PortInUse           a host port the spec publishes is taken on this host
    │   ├── ImageMissing            the image is not present and may not be pulled or built
    │   ├── BuildFailed             an image build failed: the failing step's output, its exit code
    │   ├── TaskFailed              a Swarm task ended before running (rejected, failed): its error
    │   ├── NoNodeQualifies         no Swarm node may run the session safely: each node and why
    │   └── VerificationFailed      an object exists but is not what was declared (fail closed)
    │       └── NodeWithoutNnp      a Swarm task without no-new-privileges, and nothing else
    ├── PlanError                   exit 1: Docker's state forbids the plan (e.g. an unowned name)
    │   └── StalePlan               a saved plan no longer holds: its items name what changed
    ├── NotApplied                  exit 1: the session or container is not there or not running
    ├── StepFailed                  a step of an apply failed (the cause inside ApplyFailed)
    │   ├── HookFailed              a hook exited non-zero
    │   ├── NotReady                a dependency did not become ready
    │   └── Cancelled               SIGINT/SIGTERM during the transaction
    ├── UndoFailed                  one undo step failed, or Docker differs from before after it
    ├── ApplyFailed                 exit 1: apply failed and was rolled back; carries both stories
    │                               (the cause, and every UndoFailed as an ExceptionGroup)
    ├── CommitIncomplete            exit 1: applied, but removing the old objects failed
    ├── DestroyFailed               exit 1: some objects of the session could not be removed
    ├── GitError                    exit 1: a git step of fork mode failed
    └── ForkError                   exit 1: a fork cannot be made, merged or removed as asked

Foreign exceptions are translated at the boundary: ``raise NotFound(...) from exc``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# Light: `aifo exec`'s fast path imports this module. Issue is loaded when a spec error is made,
# and TYPE_CHECKING is not typing's (mypy knows the name), so typing is not loaded either.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from aifo.issue import Issue
    from aifo.location import Location

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_CHANGES = 2  # only under `plan --detailed-exitcode` (Terraform's: 1 is any error)
EXIT_INTERRUPTED = 130  # Ctrl-C (or SIGTERM during destroy) outside a transaction


class AifoError(Exception):
    """Base of every expected aifo error. Catch this, print `str(e)`, exit with `e.exit_code`."""

    # A stable word for machines (`-o json`'s error.kind, docs/cli.md); never the class name,
    # which may be renamed.
    kind = "error"
    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None, items: Sequence[str] = ()) -> None:
        self.message = message
        self.hint = hint
        self.items = tuple(items)  # the parts of the story, one line each (e.g. what changed)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        lines = [self.message, *(f"  {item}" for item in self.items)]
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


class UsageError(AifoError):
    """The command line is wrong. Run the command with --help."""

    kind = "usage"
    exit_code = EXIT_INVALID


class SpecError(AifoError):
    """The spec is invalid. Fix each listed FILE:LINE:COL and run `aifo validate` again."""

    kind = "invalid-spec"
    exit_code = EXIT_INVALID

    def __init__(self, issues: Iterable[Issue]) -> None:
        from aifo.issue import Issue

        self.issues: tuple[Issue, ...] = tuple(sorted(issues, key=Issue.sort_key))
        super().__init__("\n".join(str(i) for i in self.issues) or "invalid spec")

    def __str__(self) -> str:
        return self.message

    @classmethod
    def single(
        cls, location: Location | None, path: str, message: str, hint: str | None = None
    ) -> SpecError:
        from aifo.issue import Issue

        return cls([Issue(location, path, message, hint)])


class StateError(AifoError):
    """The state directory, journal or lock cannot be used. Check its permissions."""

    kind = "state"


class JournalRefused(StateError):
    """A journal aifo will not run: not the user's own, not private, a link, of another session
    or not well formed. Look at it; remove it when it is not from an apply of yours."""

    kind = "journal-refused"


class LockTimeout(StateError):
    """Another aifo process holds the session lock. Wait for it or stop it."""

    kind = "locked"


class EngineError(AifoError):
    """Docker refused or failed an operation."""

    kind = "engine"


class EngineUnavailable(EngineError):
    """The Docker daemon cannot be reached. Start it (the hint names the command here)."""

    kind = "engine-unavailable"


class NotFound(EngineError):
    """A Docker object does not exist."""

    kind = "not-found"


class Conflict(EngineError):
    """A Docker name is taken, or the object is in use."""

    kind = "conflict"


class PortInUse(Conflict):
    """A host port the spec publishes is already taken on this host: stop what listens there,
    or publish another host port. `at` names the spec entry (`ports[N]`) once it is known."""

    kind = "port-in-use"

    def __init__(self, host_ip: str, host_port: int, protocol: str = "tcp") -> None:
        self.host_ip, self.host_port, self.protocol = host_ip, host_port, protocol
        self.spec_path: tuple[str | int, ...] = ()  # the container's `ports[N]`, when known
        self.location: Location | None = None
        super().__init__(
            f"host port {host_ip}:{host_port} ({protocol}) is already in use on this host",
            hint=f"stop what listens on port {host_port}, or publish another host port",
        )

    def at(
        self, path: tuple[str | int, ...], where: str = "", location: Location | None = None
    ) -> PortInUse:
        """The same error, naming the spec entry: `FILE:LINE:COL: PATH: message` when known."""
        located = PortInUse(self.host_ip, self.host_port, self.protocol)
        located.spec_path, located.location = path, location
        prefix = "".join(f"{part}: " for part in (location, where) if part)
        located.message = prefix + located.message
        located.args = (str(located),)
        return located


class ImageMissing(EngineError):
    """The image is not present locally and may not be pulled or built."""

    kind = "image-missing"


class BuildFailed(EngineError):
    """An image build failed. The message names the step and holds its output: fix the
    Dockerfile or the build args it names, then apply again."""

    kind = "build-failed"

    def __init__(self, message: str, *, step: int, step_exit_code: int | None) -> None:
        super().__init__(message)
        self.step = step
        self.step_exit_code = step_exit_code  # the step's own code (exit_code is aifo's)


class TaskFailed(EngineError):
    """A Swarm service's task ended before it ran (`rejected`: no such image, a bind source the
    node lacks; `failed`): Swarm's own error inside; never retried, the apply rolls back."""

    kind = "task-failed"


class NoNodeQualifies(EngineError):
    """No node of the swarm may run the session (not ready, drained, unreachable, seen without
    no-new-privileges): fail closed, one item per node with its reason, the fixes in the hint."""

    kind = "no-node"


class VerificationFailed(EngineError):
    """An object exists but does not match its declaration; aifo fails closed."""

    kind = "verification-failed"


class NodeWithoutNnp(VerificationFailed):
    """A Swarm task was verified without no-new-privileges, and that was all that was wrong:
    its node's daemon does not set it (the node's fact recorded). `aifo apply` may place a
    fresh session on another node (aifo.apply.elsewhere). Its message is a VerificationFailed's;
    an apply reports it inside ApplyFailed (kind `apply-failed`) as before."""

    kind = "node-without-nnp"

    def __init__(self, message: str, *, node_id: str, node: str, hint: str | None = None) -> None:
        self.node_id = node_id
        self.node = node  # its hostname (else its id)
        super().__init__(message, hint=hint)


class PlanError(AifoError):
    """Docker's current state forbids the plan, e.g. a name owned by someone else."""

    kind = "plan-refused"


class StalePlan(PlanError):
    """A saved plan no longer holds (its items say what changed); nothing was changed. Review
    a new plan."""

    kind = "stale-plan"


class NotApplied(AifoError):
    """The session or container is not there or not running. Run `aifo apply` first."""

    kind = "not-applied"


class SecretMissing(AifoError):
    """A required secret has no value. Set the variable or create the file, then retry."""

    kind = "secret-missing"


class StepFailed(AifoError):
    """A step of an apply failed; the apply is rolled back (raised inside ApplyFailed)."""

    kind = "step-failed"


class HookFailed(StepFailed):
    """A hook exited non-zero; the apply is rolled back. Fix the hook's command."""

    kind = "hook-failed"


class NotReady(StepFailed):
    """A dependency did not become ready; dependants were not started."""

    kind = "not-ready"


class Cancelled(StepFailed):
    """The apply was interrupted (SIGINT/SIGTERM); everything it did is rolled back."""

    kind = "cancelled"


class UndoFailed(AifoError):
    """An undo step failed, or Docker differs from its state before the apply after rollback.
    Inspect the named object; `aifo status` shows what is left."""

    kind = "undo-failed"


class ApplyFailed(AifoError):
    """Apply failed; every recorded step was undone. Lists the cause and any undo failures.

    `undo` groups the UndoFailed errors (an ExceptionGroup, None when the rollback was clean).
    """

    kind = "apply-failed"

    def __init__(self, cause: BaseException, undo_failures: Sequence[UndoFailed] = ()) -> None:
        self.cause = cause
        self.undo_failures = tuple(undo_failures)
        self.undo: ExceptionGroup[UndoFailed] | None = (
            ExceptionGroup("undo failures", list(undo_failures)) if undo_failures else None
        )
        lines = [f"apply failed: {cause}", "rolled back: Docker is as it was before this apply"]
        if undo_failures:
            lines[1] = "rollback was incomplete; these undo steps failed:"
            lines += [f"  - {f}" for f in undo_failures]
        super().__init__("\n".join(lines))


class CommitIncomplete(AifoError):
    """The apply committed, but removing old objects failed; `aifo apply` again cleans up."""

    kind = "commit-incomplete"


class DestroyFailed(AifoError):
    """Some objects could not be removed; the rest were. Run `aifo destroy` again."""

    kind = "destroy-failed"


class GitError(AifoError):
    """A git step of fork mode failed; the message names the command and the folder."""

    kind = "git-failed"


class ForkError(AifoError):
    """A fork cannot be made, merged or removed as asked; the hint says what to do first."""

    kind = "fork-refused"
