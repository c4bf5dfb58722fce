"""A listener on this machine's own addresses and a probe from inside a container (issue 22 #12).

The listeners bind to the bridge's gateway and to the host's primary address: both are this
machine's own addresses, and the only ones the probes aim at. Plain subprocess calls to the
engine's CLI and to iptables (an independent view, not the code under test).
"""

from __future__ import annotations

import shlex
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

GREETING = "hello-from-the-host"


def primary_address() -> str:
    """The IPv4 address of the interface holding the default route (read, nothing sent)."""
    iface = ""
    for line in Path("/proc/net/route").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "00000000":
            iface = fields[0]
            break
    out = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "dev", iface or "lo"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    return out.split("inet ", 1)[1].split("/", 1)[0]


@contextmanager
def listening(*addresses: str) -> Iterator[dict[str, int]]:
    """A TCP listener on each address (a free port each) that greets and hangs up."""
    sockets: dict[str, socket.socket] = {}
    stop = threading.Event()
    for address in addresses:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((address, 0))
        s.listen(8)
        s.settimeout(0.2)
        sockets[address] = s

    def serve(s: socket.socket) -> None:
        while not stop.is_set():
            try:
                conn, _ = s.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(GREETING.encode() + b"\n")

    threads = [threading.Thread(target=serve, args=(s,), daemon=True) for s in sockets.values()]
    for t in threads:
        t.start()
    try:
        yield {a: s.getsockname()[1] for a, s in sockets.items()}
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5)
        for s in sockets.values():
            s.close()


def reaches(cli: str, container: str, address: str, port: int) -> bool:
    """Whether `nc` in the container gets the listener's greeting (2 s to connect)."""
    probe = f"echo | nc -w 2 {address} {port}"
    out = subprocess.run(
        [cli, "exec", container, "sh", "-c", probe],
        capture_output=True, text=True, timeout=60, check=False,
    ).stdout  # fmt: skip
    return GREETING in out


def _out(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False).stdout


def gateway(cli: str, network: str) -> str:
    """The network's gateway: an address of this machine, on the network's bridge."""
    if cli == "docker":
        fmt = "{{range .IPAM.Config}}{{.Gateway}} {{end}}"
        return _out(cli, "network", "inspect", network, "--format", fmt).split()[0]
    import json

    return str(json.loads(_out(cli, "network", "inspect", network))[0]["subnets"][0]["gateway"])


def guard_rules(session: str) -> list[tuple[str, list[str]]]:
    """(tool, rule words after `-A INPUT`) of every INPUT rule whose comment names `session`."""
    found: list[tuple[str, list[str]]] = []
    for tool in ("iptables", "ip6tables"):
        for line in _out(tool, "-w", "10", "-S", "INPUT").splitlines():
            if f"session={session} " not in line:
                continue
            words = shlex.split(line)
            found.append((tool, words[2:]))
    return found


def drop_rules(session: str) -> None:
    """Delete the session's rules behind aifo's back (to show what happens without them)."""
    for tool, words in guard_rules(session):
        subprocess.run([tool, "-w", "10", "-D", "INPUT", *words], check=True, timeout=30)
