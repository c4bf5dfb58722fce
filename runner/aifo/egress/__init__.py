"""Egress allowlists (docs/egress.md): a squid sidecar per session, per-client rules.

- `rules`: the `HOST[:PORT]` patterns of `egress.allow`, parsed. Pure.
- `squid`: the proxy's configuration, rendered from the clients and their rules. Pure.
- `sidecar`: the resolved spec with the proxy, its networks and the clients' proxy settings
  added, so compile, plan and apply treat the proxy like any other container. Pure.
- `collect`: the proxy's access log, read through the engine, appended to the audit log.
- `naming`: a record's client, from the engine's addresses of the session's containers. Pure.
"""
