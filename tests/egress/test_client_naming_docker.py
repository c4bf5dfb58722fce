"""An egress record's client on the real engine (docs/egress.md, "Naming the client"): named from
the engine's addresses of the session's containers, never from what the proxy wrote.

Its own session (fresh containers: their first requests are the point), on the same local
upstreams as test_egress_docker.py. No traffic leaves the host.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.egress.test_egress_docker import Env, upstream
from tests.security.helpers import docker

pytestmark = [pytest.mark.docker, pytest.mark.slow]

__all__ = ["upstream"]  # the shared fixture: two httpd upstreams on a network of their own


@pytest.fixture(scope="module")
def fresh(
    upstream: str, module_session_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Env]:
    session = f"{module_session_name}-n"
    e = Env(tmp_path_factory.mktemp("naming"), session, upstream)
    e.write(a_allow=["allowed.test"], b_allow=[])
    try:
        done = e.apply()
        assert done.returncode == 0, done.stdout + done.stderr
        yield e
    finally:
        e.aifo("destroy", str(e.file), "--yes")


def address(env: Env, container: str) -> str:
    """The container's address on the network it shares with the proxy (its only one)."""
    found = json.loads(docker("inspect", "-f", "{{json .NetworkSettings.Networks}}",
                              env.name(container)))  # fmt: skip
    (info,) = found.values()
    return str(info["IPAddress"])


def tunnel(env: Env, container: str, target: str, hold_s: float) -> str:
    """A CONNECT tunnel through the proxy, held open `hold_s` seconds (an HTTPS client's
    request: squid logs it when it closes); the proxy's reply line."""
    script = (
        f"(printf 'CONNECT {target} HTTP/1.1\\r\\nHost: {target}\\r\\n\\r\\n'; sleep {hold_s})"
        " | timeout 20 nc egress-proxy 3128 | head -n 1"
    )
    return docker("exec", env.name(container), "sh", "-c", script)


def test_first_request_of_a_fresh_container_is_named(fresh: Env) -> None:
    """squid caches a reverse lookup for at most a second and logs a request when it ends: the
    first request of a fresh container, a tunnel longer than that, is logged without a name
    (the old gap, deterministic here). The engine's mapping names it all the same."""
    ours = {address(fresh, "a"): "a", address(fresh, "b"): "b"}
    assert " 200 " in tunnel(fresh, "a", "allowed.test:80", 2.5)  # a's first request
    fresh.fetch("b", "http://allowed.test/first")  # b's first request (refused)
    records = fresh.audit()
    firsts = {r["address"]: r for r in reversed(records) if r["address"] in ours}
    assert set(firsts) == set(ours), records
    for addr, rec in firsts.items():
        assert rec["client"] == ours[addr], rec
        assert "unnamed" not in rec and "proxy_client" not in rec, rec


def test_a_forged_proxy_name_does_not_win(fresh: Env) -> None:
    """A proxy that writes another client's name (or names an address no container of the
    session has) is recorded with the engine's answer; its claim is kept as evidence."""
    a, stamp = address(fresh, "a"), f"{time.time():.3f}"
    lines = [
        ["aifo-egress", stamp, a, fresh.name("b") + ".x", "GET", "forged.test", "80", "200",
         "TCP_MISS"],
        ["aifo-egress", stamp, "192.0.2.77", fresh.name("a") + ".x", "GET", "stranger.test",
         "80", "200", "TCP_MISS"],
    ]  # fmt: skip
    text = "".join("\t".join(line) + "\n" for line in lines)
    # the proxy's own process writes to its stdout (the access log): what a compromised squid
    # could write
    docker("exec", fresh.name("egress-proxy"), "sh", "-c", f"printf '%s' '{text}' >/proc/1/fd/1")
    records = {r["target"]: r for r in fresh.audit()}
    forged = records["forged.test:80"]
    assert forged["client"] == "a" and forged["proxy_client"] == "b", forged
    stranger = records["stranger.test:80"]
    assert stranger["client"] is None and stranger["proxy_client"] == "a", stranger
    assert "no container of the session" in stranger["unnamed"]


def test_apply_replacing_a_client_collects_first(fresh: Env) -> None:
    """Requests are named by the addresses the engine reports when they are collected: an apply
    that replaces a client (the proxy unchanged) collects before the old container lets its
    address go, so its requests are named while the engine still maps it."""
    before = {r["time"] for r in read_log(fresh)}
    code, out = fresh.fetch("a", "http://allowed.test/")
    assert code == 0, out
    text = fresh.file.read_text()
    fresh.file.write_text(text.replace("command: [sleep, infinity]", "command: [sleep, '9999']", 1))
    done = fresh.apply()
    assert done.returncode == 0, done.stdout + done.stderr
    new = [r for r in read_log(fresh) if r["time"] not in before]  # no `aifo audit` ran
    assert [(r["client"], r["target"]) for r in new] == [("a", "allowed.test:80")], new


def read_log(env: Env) -> list[dict[str, Any]]:
    """The audit log as it is on disk (`aifo audit` would collect first)."""
    path = env.state / "sessions" / env.session / "audit.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [r for r in map(json.loads, lines) if r.get("kind") == "egress"]
