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
want         the names a session would use (what observe asks about)

Import from the submodules: the package itself imports nothing, so a no-op `aifo apply` loads
only the lock and the journal path, not the transaction machinery.
"""
