"""Published ports: `"8080"`, `"8080:80"`, `"127.0.0.1:8080:80/udp"`, or a mapping."""

from __future__ import annotations

import re
from typing import Any

from aifo.model import Port

_PORT = re.compile(
    r"^(?:(?P<ip>\[[0-9a-fA-F:]+\]|[0-9]+(?:\.[0-9]+){3}):)?(?:(?P<host>[0-9]{1,5}):)?"
    r"(?P<container>[0-9]{1,5})(?:/(?P<proto>tcp|udp))?\Z"
)


def port(value: str | dict[str, Any]) -> Port:
    if isinstance(value, dict):
        return Port(
            container_port=int(value["container"]),
            host_port=int(value["host"]) if value.get("host") is not None else None,
            host_ip=str(value.get("host_ip", "127.0.0.1")),
            protocol=value.get("protocol", "tcp"),
        )
    match = _PORT.match(value.strip())
    if not match:
        raise ValueError(f"not a port: {value!r}")
    ip = match.group("ip") or "127.0.0.1"
    host = match.group("host")
    # "8080" alone publishes nothing on the host; "HOST:CONTAINER" does.
    return Port(
        container_port=int(match.group("container")),
        host_port=int(host) if host else None,
        host_ip=ip.strip("[]"),
        protocol="udp" if match.group("proto") == "udp" else "tcp",
    )
