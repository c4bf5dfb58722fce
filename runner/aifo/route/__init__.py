"""Toolchain routing: an agent's `cargo`, `npm`, `python`, ... run in its toolchain sidecars.

- `layout`: where the route folder lives on the host and in the agent (pure; compile uses it).
- `table`: which toolchain runs each tool of an agent (pure; compile, config and graph use it).
- `shim`: the POSIX sh shim written into the route folder.
- `folder`: preparing the route folder (shims, control FIFO, locks) for one agent.
- `request`: reading, checking and refusing one request the shim wrote (bounded, symlink-safe).
- `pump`: streaming one routed command's stdio with non-blocking I/O and deadlines.
- `transport`, `execroute`, `execends`: how the router reaches the route folder (a host folder
  bound into the agent, or a tmpfs in the agent reached through the engine's exec: Swarm).
- `router`: the host-side router `aifo exec`/`run`/`shell` runs while their process lives.
- `serve`: the wiring for those commands (a router, and the shims first on PATH).

See docs/routing.md for the design and why it is built this way.
"""
