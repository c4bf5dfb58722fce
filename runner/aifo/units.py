"""Parsers for the spec's small value languages: durations, sizes, ports, command lines,
healthchecks, and the scalars Docker wants as strings."""

from __future__ import annotations

import re
import shlex
from typing import Any

from aifo.model import Healthcheck, Port

_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([bkmgt]?)b?$", re.IGNORECASE)
_POWERS = {"": 0, "b": 0, "k": 1, "m": 2, "g": 3, "t": 4}
_PORT = re.compile(
    r"^(?:(?P<ip>\[[0-9a-fA-F:]+\]|[0-9]+(?:\.[0-9]+){3}):)?(?:(?P<host>[0-9]{1,5}):)?"
    r"(?P<container>[0-9]{1,5})(?:/(?P<proto>tcp|udp))?$"
)


def seconds(value: str | float | int) -> float:
    """`"500ms"`, `"5s"`, `"2m"`, `"1h"` or a number of seconds."""
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(value.strip())
    if not match:
        raise ValueError(f"not a duration: {value!r}")
    return float(match.group(1)) * _SCALE[match.group(2)]


def size_bytes(value: str | int) -> int:
    """`"512m"`, `"2g"`, `"64k"` (binary units, as Docker reads them) or a number of bytes."""
    if isinstance(value, int):
        return value
    match = _SIZE.match(value.strip())
    if not match:
        raise ValueError(f"not a size: {value!r}")
    return int(float(match.group(1)) * 1024 ** _POWERS[match.group(2).lower()])


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


def argv(value: str | list[Any] | None) -> tuple[str, ...] | None:
    """A command line: a list is taken as is; a string is split like a POSIX shell would."""
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(shlex.split(value))
    return tuple(str(v) for v in value)


def scalar(value: Any) -> str:
    """An env or label value as Docker stores it: YAML's `true` is "true", not "True"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def pairs(mapping: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """A str->scalar mapping as sorted (key, value) pairs: the model's order-free form."""
    return tuple(sorted((str(k), scalar(v)) for k, v in (mapping or {}).items()))


def healthcheck(cfg: dict[str, Any]) -> Healthcheck:
    """`test` as Docker's argv: a string runs in a shell (CMD-SHELL), a bare list gets CMD."""
    test = cfg["test"]
    if isinstance(test, str):
        argv: tuple[str, ...] = ("CMD-SHELL", test)
    elif test and test[0] in ("CMD", "CMD-SHELL", "NONE"):
        argv = tuple(str(t) for t in test)
    else:
        argv = ("CMD", *(str(t) for t in test))
    return Healthcheck(
        test=argv,
        interval_s=seconds(cfg.get("interval", 5)),
        timeout_s=seconds(cfg.get("timeout", 3)),
        retries=int(cfg.get("retries", 3)),
        start_period_s=seconds(cfg.get("start_period", 0)),
    )
