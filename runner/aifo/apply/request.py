"""What one `aifo apply` run does, decided below the CLI: its mode (once, watch, dry run), its
spec (named, or fixed by a saved plan) and whether it may replace or remove without asking.

`commands/apply.py` only wires: it hands the command line's values to `ApplyOptions.request`
and runs what comes back. Raises UsageError (exit 2) for a combination that makes no sense.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from aifo.errors import UsageError

if TYPE_CHECKING:
    from aifo.plan.saved import SavedPlan

Mode = Literal["once", "watch", "dry-run"]


@dataclass(frozen=True)
class ApplyRequest:
    """The run, decided: a dry run, a watch loop, or one transaction."""

    mode: Mode
    spec_file: str | None  # None: a dry run finds the nearest spec itself
    profiles: tuple[str, ...]
    session: str | None  # --session NAME, checked
    yes: bool  # may replace or remove without asking (a reviewed saved plan: yes)
    saved: SavedPlan | None = None


@dataclass(frozen=True)
class ApplyOptions:
    """`aifo apply`'s command line, as click parses it (names are the click parameters')."""

    spec_file: str | None
    session_name: str | None
    profiles: tuple[str, ...]
    yes: bool
    parallel: int
    lock_timeout: float
    output: str
    watch: bool = False
    settle_ms: int = 300
    down_on_exit: bool = False
    dry_run: bool = False
    wait: bool = False
    wait_timeout: float | None = None

    def request(
        self,
        find_spec: Callable[[str | None], str],
        check_session: Callable[[str | None], str | None],
    ) -> ApplyRequest:
        """What to run. `find_spec`/`check_session`: the command line's own lookups (`-f`,
        discovery, the session-name check)."""
        from aifo.plan.planfile import is_plan_file

        if self.wait_timeout is not None and not self.wait:
            raise UsageError("--wait-timeout needs --wait")
        if self.dry_run:
            if self.watch:
                raise UsageError("--dry-run and --watch don't go together")
            return ApplyRequest("dry-run", self.spec_file, self.profiles, self.session_name, True)
        if self.down_on_exit and not self.watch:
            raise UsageError("--down-on-exit needs --watch")
        if self.spec_file is not None and is_plan_file(self.spec_file):
            if self.profiles or self.session_name or self.watch:
                raise UsageError(
                    "a saved plan fixes the spec, its profiles and the session",
                    hint=f"run `aifo apply {self.spec_file}` alone, or make a new plan",
                )
            from aifo.plan import saved as savedplan

            saved = savedplan.load(self.spec_file)
            # reviewed when it was made: no second question
            return ApplyRequest(
                "once", saved.spec, saved.profiles, saved.session_override, True, saved
            )
        return ApplyRequest(
            "watch" if self.watch else "once",
            find_spec(self.spec_file),
            self.profiles,
            check_session(self.session_name),
            self.yes,
        )


def must_ask(destructive: int, *, yes: bool, interactive: bool) -> bool:
    """Whether to ask before replacing or removing `destructive` objects. Without a terminal
    there is nobody to ask: refused (UsageError) unless --yes."""
    if not destructive or yes:
        return False
    if not interactive:
        raise UsageError(
            f"this apply would replace or remove {destructive} object(s)",
            hint="pass --yes to allow it without a terminal",
        )
    return True
