"""Fork mode (docs/fork.md): N copies of a session, each in its own clone of the repository.

`layout` (names and places, pure), `derive` (a fork's spec from the main one, pure), `gitsteps`
(every git step, through aifo.engine.git), `records` (what `fork ls` lists), `transaction`
(`fork new` as one journaled transaction, its undo and crash recovery), `inspect` (ahead, dirty,
diff, read safely from the host), `merge` and `remove`.
"""
