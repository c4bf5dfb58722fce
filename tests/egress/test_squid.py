"""The proxy's squid.conf (aifo.egress.squid): per-client rules, deny by default."""

from __future__ import annotations

from aifo.egress.rules import parse_all
from aifo.egress.squid import Client, render


def test_each_client_gets_only_its_own_rules_and_everything_else_is_denied() -> None:
    b_sources = ("aifo-s-b.aifo-s-net", "aifo-s-b.aifo-s-x")
    conf = render(
        [
            Client("agent/a", ("aifo-s-a.aifo-s-net",), parse_all(["allowed.test"])),
            Client("agent/b", b_sources, parse_all(["*.x.org:8443"])),
        ]
    )
    lines = conf.splitlines()
    assert "acl c0 srcdomain aifo-s-a.aifo-s-net" in lines
    assert "acl c1 srcdomain aifo-s-b.aifo-s-net aifo-s-b.aifo-s-x" in lines
    assert "acl c0r0h dstdomain -n allowed.test" in lines
    assert "acl c0r0p port 80 443" in lines
    assert r"acl c1r0h dstdom_regex -n -i \.x\.org$" in lines
    assert "acl c1r0p port 8443" in lines
    allows = [line for line in lines if line.startswith("http_access allow")]
    assert allows == ["http_access allow c0 c0r0h c0r0p", "http_access allow c1 c1r0h c1r0p"]
    assert lines[-1] == "http_access deny all"
    denies = [i for i, line in enumerate(lines) if line.startswith("http_access deny manager")]
    assert denies and denies[0] < lines.index(allows[0])


def test_a_client_without_rules_gets_no_allow_line() -> None:
    conf = render([Client("agent/a", ("aifo-s-a.aifo-s-egress-a",), ())])
    assert "http_access allow" not in conf
    assert conf.rstrip().endswith("http_access deny all")
