"""The egress proxy's squid.conf, rendered from the clients and their rules. Pure.

Clients are told apart by the name Docker's DNS gives their address on a network the proxy
shares with them (`<container>.<network>`, a reverse lookup squid makes per request: the
`srcdomain` ACL). Containers drop NET_RAW, so none can forge another's source address, and a
replaced container keeps its name, so nothing here depends on addresses Docker hands out. Every
request must match one of its own client's rules (host and port together); anything else, and
any container that is not a client, gets squid's 403. The access log (one tab-separated line per
request, `LOG_TAG` first) is the container's stdout; `aifo.egress.collect` parses it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aifo.egress.rules import Rule

PORT = 3128
LOG_TAG = "aifo-egress"
# time, client address, client name (reverse DNS), method, host, port, status, squid's verdict
LOG_FIELDS = ("%ts.%03tu", "%>a", "%>A", "%rm", "%>rd", "%>rP", "%>Hs", "%Ss")

_BASE = f"""\
# Rendered by aifo (runner/aifo/egress/squid.py); docs/egress.md. Do not edit: apply replaces it.
http_port {PORT}
pid_filename none
cache deny all
cache_mem 8 MB
coredump_dir /tmp
pinger_enable off
cache_log /dev/stderr
logfile_rotate 0
logformat aifo {LOG_TAG}\t{chr(9).join(LOG_FIELDS)}
access_log stdio:/dev/stdout aifo !localhost
# Short DNS lifetimes: a client's name is looked up per request, never trusted for long.
positive_dns_ttl 1 seconds
negative_dns_ttl 1 seconds
shutdown_lifetime 0 seconds
via off
forwarded_for delete
httpd_suppress_version_string on
http_access deny manager
http_access deny to_localhost
"""


@dataclass(frozen=True)
class Client:
    """An egress client as the proxy sees it: its names and its allowlist."""

    rid: str  # graph id, e.g. "agent/codex"
    sources: tuple[str, ...]  # the client's reverse-DNS names: `<container>.<network>`
    rules: tuple[Rule, ...]


def _host_acl(rule: Rule) -> str:
    if rule.wildcard:
        return "dstdom_regex -n -i " + r"\." + re.escape(rule.host) + "$"
    return f"dstdomain -n {rule.host}"


def render(clients: Sequence[Client]) -> str:
    """squid.conf: the fixed part, then per client its source ACL and one allow per rule."""
    lines = [_BASE.rstrip("\n")]
    for i, client in enumerate(clients):
        lines.append(f"# {client.rid}")
        lines.append(f"acl c{i} srcdomain " + " ".join(client.sources))
        for j, rule in enumerate(client.rules):
            lines.append(f"acl c{i}r{j}h {_host_acl(rule)}")
            lines.append(f"acl c{i}r{j}p port " + " ".join(str(p) for p in rule.ports))
            lines.append(f"http_access allow c{i} c{i}r{j}h c{i}r{j}p")
    lines.append("http_access deny all")
    return "\n".join(lines) + "\n"
