"""aifo.engine.firewall's pure parts: the rules it wants, how it finds its own again (exactly:
a session's name is never matched as a prefix of another's), and why it cannot guard (issue 22
#12). The rules themselves are tested on the real host in tests/security/test_host_guard_docker."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from aifo.engine import firewall
from aifo.engine.api import EngineFacts
from aifo.engine.doctor import checks
from aifo.model import Network
from aifo.model.observed import ObservedNetwork
from aifo.plan.verify import guard_problems

LISTING = """\
-P INPUT ACCEPT
-A INPUT -i br-1 -m conntrack ! --ctstate RELATED,ESTABLISHED -m comment --comment "aifo-guard session=ab network=aifo-ab-n" -j DROP
-A INPUT -i podman3 -d 10.89.0.1/32 -p udp -m udp --dport 53 -m comment --comment "aifo-guard session=a network=aifo-a-n" -j ACCEPT
-A INPUT -i podman3 -m conntrack ! --ctstate RELATED,ESTABLISHED -m comment --comment "aifo-guard session=a network=aifo-a-n" -j DROP
-A INPUT -i br-9 -m comment --comment "aifo-guard session=a network=x extra" -j DROP
-A INPUT -i br-9 -m comment --comment "not aifo-guard session=a network=x" -j DROP
-A INPUT -i eth0 -j ACCEPT
"""  # noqa: E501


def test_only_exact_comments_are_ours() -> None:
    rules = firewall.parse_rules("ipv4", LISTING)
    assert [(r.session, r.network, r.bridge, r.target) for r in rules] == [
        ("ab", "aifo-ab-n", "br-1", "DROP"),
        ("a", "aifo-a-n", "podman3", "ACCEPT"),
        ("a", "aifo-a-n", "podman3", "DROP"),
    ]
    assert firewall.parse_comment("aifo-guard session=a network=n") == ("a", "n")
    for foreign in ("aifo-guard session=a", "aifo-guardx session=a network=n", "x session=a n=b"):
        assert firewall.parse_comment(foreign) is None


def test_the_rules_wanted_let_only_the_engines_dns_in() -> None:
    docker = firewall.wanted("s", "aifo-s-n", "br-1", (), "ipv4")
    assert docker == [
        ["-i", "br-1", "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED",
         "-m", "comment", "--comment", "aifo-guard session=s network=aifo-s-n", "-j", "DROP"],
    ]  # fmt: skip
    podman = firewall.wanted("s", "n", "podman1", ("10.89.0.1", "fd00::1"), "ipv4")
    assert [r[:8] for r in podman[:2]] == [
        ["-i", "podman1", "-d", "10.89.0.1", "-p", "udp", "--dport", "53"],
        ["-i", "podman1", "-d", "10.89.0.1", "-p", "tcp", "--dport", "53"],
    ]
    assert podman[-1][-1] == "DROP" and len(podman) == 3  # the IPv6 gateway: its own family
    assert len(firewall.wanted("s", "n", "podman1", ("10.89.0.1", "fd00::1"), "ipv6")) == 3


def test_guarded_needs_a_drop_in_every_family(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(firewall, "families", lambda: ("ipv4", "ipv6"))
    v4 = firewall.parse_rules("ipv4", LISTING)
    assert not firewall.guarded(v4, "podman3")
    both = [*v4, firewall.GuardRule("ipv6", "a", "aifo-a-n", "podman3", "DROP", ())]
    assert firewall.guarded(both, "podman3")
    assert not firewall.guarded(both, "br-other")


def test_without_root_it_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert firewall.problem() == "aifo runs as uid 1000, and only root may add firewall rules"


def test_without_iptables_it_says_which(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda tool: None)
    assert "`iptables` is not installed" in (firewall.problem() or "")


def test_verification_names_each_unguarded_network() -> None:
    nets = [
        Network(name="a", docker_name="aifo-t-a", internal=True),
        Network(name="b", docker_name="aifo-t-b", internal=True),
        Network(name="c", docker_name="aifo-t-c", internal=True),
    ]
    observed = {
        "aifo-t-a": ObservedNetwork("1", "aifo-t-a", bridge="br-1"),
        "aifo-t-b": ObservedNetwork("2", "aifo-t-b", bridge="br-2"),
    }
    problems = guard_problems(nets, observed, {"aifo-t-a": ("br-1",), "aifo-t-b": ("br-old",)})
    assert problems == [
        "network/b: the host accepts new connections from br-2: no aifo-guard rule drops them",
        "network/c: network aifo-t-c is missing",
    ]


def test_doctor_fails_without_the_guard() -> None:
    good = EngineFacts(server_version="20.10", api_version="1.41", os="Debian")
    [ok] = [c for c in checks(good, docker_cli=True, state=Path("/tmp"),
                              state_error=None) if c.name == "host guard"]  # fmt: skip
    assert ok.status == "ok"
    bad = EngineFacts(server_version="20.10", host_guard="aifo runs as uid 1000, and only ...")
    [fail] = [c for c in checks(bad, docker_cli=True, state=Path("/tmp"),
                                state_error=None) if c.name == "host guard"]  # fmt: skip
    assert fail.status == "failure" and "uid 1000" in fail.detail
    assert fail.fix is not None and "allow: [host]" in fail.fix


SHADOWS = [
    ("-A INPUT -j ACCEPT", True),
    ("-A INPUT -i br-1 -p tcp -j ACCEPT", True),
    ("-A INPUT -i br+ -j ACCEPT", True),
    ("-A INPUT ! -i lo -j ACCEPT", True),
    ("-A INPUT -j ufw-before-input", True),  # a jump: whatever that chain does
    ("-A INPUT -i lo -j ACCEPT", False),
    ("-A INPUT -i br-2 -j ACCEPT", False),
    ("-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT", False),
    ("-A INPUT -m state --state ESTABLISHED -j ACCEPT", False),
    ("-A INPUT -m conntrack ! --ctstate RELATED,ESTABLISHED -j ACCEPT", True),
    ("-A INPUT -p tcp --dport 22 -j DROP", False),
    ("-A INPUT -j LOG", False),
]


@pytest.mark.parametrize(("rule", "shadows"), SHADOWS)
def test_a_rule_above_ours_that_may_accept_shadows_it(rule: str, shadows: bool) -> None:
    ours = (
        "-A INPUT -i br-1 -m conntrack ! --ctstate RELATED,ESTABLISHED -m comment --comment "
        '"aifo-guard session=s network=n" -j DROP'
    )
    [above] = firewall.parse_rules("ipv4", f"-P INPUT ACCEPT\n{rule}\n{ours}\n")
    assert above.shadowed is shadows
    [below] = firewall.parse_rules("ipv4", f"-P INPUT ACCEPT\n{ours}\n{rule}\n")
    assert not below.shadowed


def test_a_shadowed_drop_does_not_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(firewall, "families", lambda: ("ipv4",))
    ours = (
        "-A INPUT -i br-1 -m conntrack ! --ctstate RELATED,ESTABLISHED -m comment --comment "
        '"aifo-guard session=s network=n" -j DROP'
    )
    assert firewall.guarded(firewall.parse_rules("ipv4", ours), "br-1")
    shadowed = firewall.parse_rules("ipv4", f"-A INPUT -i br-1 -j ACCEPT\n{ours}")
    assert not firewall.guarded(shadowed, "br-1")
