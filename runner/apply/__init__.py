"""The transaction: journaled, parallel, all-or-nothing apply; recovery; label-driven destroy.

execute      apply_plan (the entry point), ApplyResult
scheduler    plan → steps in phases and layers; verification; commit ops
transaction  Step, batches with write-ahead journaling, rollback, commit
journal      the JSON Lines write-ahead journal (format in docs/reconcile.md)
ops          undo and commit operations as data (shared by rollback and recovery)
recover      roll an unfinished journal back (or forward, past its commit)
readiness    depends_on: started / healthy
verify       fail-closed checks of networks and attachments
lock         the per-session flock
destroy      remove a session's labelled objects
"""

from __future__ import annotations

from runner.apply.destroy import Destroyed, destroy
from runner.apply.execute import ApplyResult, apply_plan, want_of
from runner.apply.lock import SessionLock, held_by
from runner.apply.recover import Recovery, recover

__all__ = [
    "ApplyResult",
    "Destroyed",
    "Recovery",
    "SessionLock",
    "apply_plan",
    "destroy",
    "held_by",
    "recover",
    "want_of",
]
