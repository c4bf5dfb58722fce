"""The host guard: the firewall rules that keep containers on internal networks off the host.

An internal network (Docker's `--internal`, netavark's too) only filters *forwarded* traffic.
A packet a container sends to any of the host's own addresses (the bridge's gateway, the host's
LAN address, the bridge's IPv6 link-local address) is delivered locally, through the filter
table's INPUT chain, whose policy is often ACCEPT: every service listening on the host is in
reach. For each internal network aifo puts at the top of INPUT, for IPv4 and IPv6 alike:

    -i BRIDGE -d GATEWAY -p udp|tcp --dport 53 -j ACCEPT   (Podman only: its aardvark-dns
                                                            answers on the gateway)
    -i BRIDGE -m conntrack ! --ctstate RELATED,ESTABLISHED -j DROP

each carrying the comment `aifo-guard session=S network=N`: new connections from the bridge to
the host are dropped, replies to what the host opened are not. A DROP counts only while no rule
of someone else's above it may accept such a connection first (`may_accept`): one inserted later
by a firewall manager makes the guard missing, and the next apply puts aifo's back on top.
The comment is how aifo finds its rules again (read back after install, by `aifo doctor`, by
destroy, rollback and recovery); it is matched token by token, exactly, never as a prefix.

Only root may change the firewall; without root, `iptables`, or (with IPv6 on) `ip6tables`,
`problem()` says why, and apply fails closed unless the network opts in (`allow: [host]`).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aifo.errors import EngineError, VerificationFailed

TAG = "aifo-guard"
CHAIN = "INPUT"
FAMILIES = {"ipv4": "iptables", "ipv6": "ip6tables"}
TIMEOUT_S = 30.0
WAIT_S = "10"  # seconds to wait for the xtables lock (other sessions change INPUT too)
_IPV6_ON = Path("/proc/net/if_inet6")
_ENOUGH = "run aifo as root on the engine's host, or accept the risk with `allow: [host]`"


@dataclass(frozen=True)
class GuardRule:
    """One of aifo's rules in INPUT, as read back."""

    family: str  # ipv4 | ipv6
    session: str
    network: str  # the network's Docker name
    bridge: str  # the host interface it matches (`-i`)
    target: str  # DROP | ACCEPT
    spec: tuple[str, ...]  # the rule as `iptables -S` prints it, after `-A INPUT`
    # a rule of someone else's stands above it and may accept new connections from its bridge
    # (a firewall manager inserted at the top of INPUT after aifo): it does not hold
    shadowed: bool = False


def comment(session: str, network: str) -> str:
    return f"{TAG} session={session} network={network}"


def parse_comment(text: str) -> tuple[str, str] | None:
    """(session, network) of one of aifo's comments; None for anyone else's."""
    parts = text.split(" ")
    if len(parts) != 3 or parts[0] != TAG:
        return None
    if not (parts[1].startswith("session=") and parts[2].startswith("network=")):
        return None
    return parts[1][len("session=") :], parts[2][len("network=") :]


def families() -> tuple[str, ...]:
    """The address families this host speaks: IPv6 only when the kernel has it on."""
    return ("ipv4", "ipv6") if _IPV6_ON.exists() else ("ipv4",)


def _family_of(address: str) -> str:
    return "ipv6" if ":" in address else "ipv4"


def wanted(
    session: str, network: str, bridge: str, dns: Sequence[str], family: str
) -> list[list[str]]:
    """The rule specs (after `-I INPUT 1`) for one family, in the order they must stand."""
    tag = ["-m", "comment", "--comment", comment(session, network)]
    rules = [
        ["-i", bridge, "-d", address, "-p", proto, "--dport", "53", *tag, "-j", "ACCEPT"]
        for address in dns
        if _family_of(address) == family
        for proto in ("udp", "tcp")
    ]
    drop = ["-i", bridge, "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED"]
    rules.append([*drop, *tag, "-j", "DROP"])
    return rules


def _value(spec: Sequence[str], flag: str) -> str:
    return spec[spec.index(flag) + 1] if flag in spec[:-1] else ""


def _negated(spec: Sequence[str], flag: str) -> bool:
    at = spec.index(flag) if flag in spec else 0
    return at > 0 and spec[at - 1] == "!"


def may_accept(spec: Sequence[str], bridge: str) -> bool:
    """Whether a rule (someone else's) standing above aifo's could let a new connection from
    `bridge` in: anything but a DROP, REJECT or LOG, unless it is for another interface or
    only for replies (RELATED/ESTABLISHED)."""
    if _value(spec, "-j") in ("DROP", "REJECT", "LOG"):
        return False
    iface = _value(spec, "-i")
    if iface and not _negated(spec, "-i"):
        same = iface == bridge or (iface.endswith("+") and bridge.startswith(iface[:-1]))
        if not same:
            return False
    for flag in ("--ctstate", "--state"):
        states = set(_value(spec, flag).split(",")) - {""}
        if states and not _negated(spec, flag) and states <= {"RELATED", "ESTABLISHED"}:
            return False
    return True


def parse_rules(family: str, listing: str) -> list[GuardRule]:
    """aifo's rules in an `iptables -S INPUT` listing, in order; each marked shadowed when a
    rule of someone else's above it may accept new connections from its bridge."""
    out: list[GuardRule] = []
    above: list[tuple[str, ...]] = []  # the other rules so far
    for line in listing.splitlines():
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if words[:2] != ["-A", CHAIN]:
            continue
        spec = tuple(words[2:])
        owner = parse_comment(_value(spec, "--comment")) if TAG in line else None
        if owner is None:
            above.append(spec)
            continue
        bridge, target = _value(spec, "-i"), _value(spec, "-j")
        shadowed = any(may_accept(other, bridge) for other in above)
        out.append(GuardRule(family, owner[0], owner[1], bridge, target, spec, shadowed))
    return out


def problem() -> str | None:
    """None when aifo may guard this host; else why it may not. No process is started: a tool
    that is there but fails makes the read-back or the install fail (closed), with its words."""
    if os.geteuid() != 0:
        return f"aifo runs as uid {os.geteuid()}, and only root may add firewall rules"
    for family in families():
        tool = FAMILIES[family]
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed ({family} is on)"
    return None


def read(session: str | None = None, network: str | None = None) -> list[GuardRule]:
    """aifo's rules in INPUT (of one session, of one of its networks), every family."""
    rules: list[GuardRule] = []
    for family, result in _listings().items():
        if result.returncode != 0:
            failed = f"`{FAMILIES[family]} -S {CHAIN}` failed: {result.stderr.strip()[:200]}"
            raise EngineError(f"cannot read the host firewall: {failed}", hint=_ENOUGH)
        rules += parse_rules(family, result.stdout)
    return [
        r
        for r in rules
        if (session is None or r.session == session) and (network is None or r.network == network)
    ]


def guarded(rules: Sequence[GuardRule], bridge: str) -> bool:
    """Whether `rules` drop new connections from `bridge` in every family this host speaks,
    with nothing of someone else's above them that may accept those first."""
    return all(
        any(
            r.family == f and r.bridge == bridge and r.target == "DROP" and not r.shadowed
            for r in rules
        )
        for f in families()
    )


def install(session: str, network: str, bridge: str, dns: Sequence[str] = ()) -> bool:
    """Guard `bridge` (idempotent); True when rules were added. Read back and verified: raises
    VerificationFailed unless the host now drops new connections from it."""
    if not bridge:
        raise VerificationFailed(f"network {network}: the engine names no bridge interface")
    present = read(session, network)
    want = {f: wanted(session, network, bridge, dns, f) for f in families()}
    if guarded(present, bridge) and len(present) == sum(len(w) for w in want.values()):
        return False
    # Rules there but wrong (another bridge, shadowed, incomplete) go first: `-D` by spec removes
    # the first match, which would be a new identical rule; numbers would race other sessions.
    for stale in present:
        _check(stale.family, ["-D", CHAIN, *stale.spec], f"remove a stale guard of {network}")
    for family, specs in want.items():
        for spec in reversed(specs):  # each goes to the top: the last inserted stands first
            _check(family, ["-I", CHAIN, "1", *spec], f"guard network {network}")
    if not guarded(read(session, network), bridge):
        raise VerificationFailed(
            f"network {network}: the host firewall does not drop connections from {bridge} "
            "after aifo added its rules",
            hint="another program may rewrite INPUT (a firewall manager?); check `iptables -S`",
        )
    return True


def remove(session: str, network: str | None = None) -> int:
    """Delete aifo's rules of `session` (of one of its networks); return how many."""
    found = read(session, network)
    for rule in found:
        result = _run(rule.family, ["-D", CHAIN, *rule.spec])
        if result.returncode != 0 and "does a matching rule exist" not in result.stderr.lower():
            raise EngineError(
                f"cannot remove the host guard of {rule.network}: {result.stderr.strip()[:200]}"
            )
    return len(found)


def bridge_present(bridge: str) -> bool:
    """Whether this machine has the interface (absent: the engine runs on another host)."""
    return bool(bridge) and "/" not in bridge and Path("/sys/class/net", bridge).exists()


def _check(family: str, argv: list[str], what: str) -> None:
    result = _run(family, argv)
    if result.returncode != 0:
        raise EngineError(f"{what}: `{FAMILIES[family]}` failed: {result.stderr.strip()[:200]}")


def _run(family: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    tool = FAMILIES[family]
    try:
        return subprocess.run(
            [tool, "-w", WAIT_S, *argv],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess([tool, *argv], 127, "", str(exc))


def _listings() -> dict[str, subprocess.CompletedProcess[str]]:
    """`-S INPUT` of every family, the tools run side by side: observe reads the guard on every
    plan and no-op apply, and each tool costs a process start."""
    from concurrent.futures import ThreadPoolExecutor

    names = families()
    if len(names) == 1:
        return {names[0]: _run(names[0], ["-S", CHAIN])}
    with ThreadPoolExecutor(len(names)) as pool:
        found = pool.map(lambda family: _run(family, ["-S", CHAIN]), names)
        return dict(zip(names, found, strict=True))
