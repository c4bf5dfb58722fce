"""The transaction: journaled, parallel, all-or-nothing apply; recovery; label-driven destroy.

execute      apply_plan (the entry point), ApplyResult
scheduler    plan → steps; one chain per container (create, start, hooks) as soon as its
             dependencies are ready; verification; commit ops
objects      images, networks, volumes as steps (pull/build, create with its discard)
transaction  Step, Chain, batches with write-ahead journaling, rollback, commit
journal      the JSON Lines write-ahead journal (format in docs/reconcile.md)
ops          undo and commit operations as data (shared by rollback and recovery)
hooks        running one hook (exec, env and secrets, the failure's story)
recover      roll an unfinished journal back (or forward, past its commit)
readiness    depends_on: started / healthy
postcondition  "Docker is as it was": the fingerprint, its comparison, the check after rollback
applied      the last-applied record (per resource: hash and canonical config)
lock         the per-session flock
destroy      remove a session's labelled objects

Import from the submodules: the package itself imports nothing, so a no-op `aifo apply` loads
only the lock and the journal path, not the transaction machinery.
"""

# Engine calls in flight at once (`--parallel`). 8, not 4: over the Engine API a call costs the
# client almost nothing, and the daemon overlaps its waits (docs/bench.md has the numbers).
PARALLEL = 8
