"""aifo's own state on disk, private to the user: the state folder, caches, saved plans, the
audit log, the per-session secret key."""
