"""The proxy's access log into audit records (aifo.egress.collect). Log lines are fed by a stub
log source (pure logic: the cursor, parsing, de-duplication); the real engine path is in
test_egress_docker.py."""

from __future__ import annotations

from pathlib import Path

from aifo.egress.collect import client_of, collect, parse
from aifo.engine.api import Want
from aifo.model import LABEL_RESOURCE, LABEL_SESSION
from aifo.model.observed import ObservedContainer, Snapshot
from aifo.state import audit

SESSION = "s"
LINE = "\t".join(
    ["aifo-egress", "1795707564.766", "172.21.0.3", "aifo-s-a.aifo-s-net", "GET", "allowed.test",
     "80", "200", "TCP_MISS"]
)  # fmt: skip
DENIED = "\t".join(
    ["aifo-egress", "1795707565.024", "172.21.0.4", "aifo-s-b.aifo-s-net", "CONNECT", "x.org",
     "443", "403", "TCP_DENIED"]
)  # fmt: skip


def test_parse_allowed_and_refused() -> None:
    ok = parse(LINE, SESSION)
    assert ok == {  # the proxy's word only: `client` is the engine's (aifo.egress.naming)
        "time": "2026-11-26T15:39:24.766Z",
        "source": "aifo-s-a.aifo-s-net",
        "address": "172.21.0.3",
        "method": "GET",
        "target": "allowed.test:80",
        "status": 200,
        "decision": "allowed",
    }
    refused = parse(DENIED, SESSION)
    assert refused is not None and refused["decision"] == "refused"
    assert refused["source"] == "aifo-s-b.aifo-s-net" and refused["target"] == "x.org:443"


def test_parse_skips_probes_foreign_and_torn_lines() -> None:
    probe = "aifo-egress\t1.0\t127.0.0.1\tlocalhost\t-\t-\t-\t0\tNONE_NONE"
    for line in (probe, "squid says hi", LINE[:40], LINE.replace("\t200\t", "\tx\t")):
        assert parse(line, SESSION) is None


def test_parse_rejects_hostile_fields() -> None:
    """The proxy is a container: its lines are validated, not believed."""
    for bad in ("172.21.0.300", "aifo-s-b", "", "::ffff:127.0.0.1", "1" * 100):
        assert parse(LINE.replace("172.21.0.3", bad), SESSION) is None, bad
    assert parse(LINE.replace("\t80\t", "\t99999\t"), SESSION) is None
    assert parse(LINE.replace("\t200\t", "\t123456\t"), SESSION) is None
    assert parse(LINE.replace("1795707564.766", "nan"), SESSION) is None
    mapped = parse(LINE.replace("172.21.0.3", "::ffff:172.21.0.3"), SESSION)
    assert mapped is not None and mapped["address"] == "172.21.0.3"
    long = parse(LINE.replace("allowed.test", "x" * 5000), SESSION)
    assert long is not None and len(long["target"]) < 300 and "[cut " in long["target"]


def test_client_of() -> None:
    assert client_of("aifo-s-a.aifo-s-net", "s") == "a"
    assert client_of("aifo-other-a.net", "s") is None
    assert client_of("-", "s") is None


def observed(name: str, rid: str, addresses: tuple[tuple[str, str], ...]) -> ObservedContainer:
    labels = {LABEL_SESSION: SESSION, LABEL_RESOURCE: rid}
    networks = tuple(sorted({n for n, _ in addresses}))
    return ObservedContainer(
        id=name, name=name, labels=labels, networks=networks, addresses=addresses
    )


PROXY = observed("aifo-s-egress-proxy", "service/egress-proxy", (("aifo-s-net", "172.21.0.2"),))


class Logs:
    """The proxy's log lines and the engine's view of the session (a stub: pure logic)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.cid = "c1"
        self.since: list[str | None] = []
        self.observed = 0
        self.containers = [
            PROXY,
            observed("aifo-s-a", "agent/a", (("aifo-s-net", "172.21.0.3"),)),
            observed("aifo-s-b", "agent/b", (("aifo-s-net", "172.21.0.4"),)),
        ]

    def observe(self, session: str, want: Want) -> Snapshot:
        assert session == SESSION and want == Want()
        self.observed += 1
        return Snapshot(session=SESSION, containers={c.name: c for c in self.containers})

    def container_id(self, ref: str) -> str | None:
        assert ref == "aifo-s-egress-proxy"
        return self.cid

    def log_lines(self, ref: str, *, since: str | None = None) -> list[tuple[str, str]]:
        self.since.append(since)
        return [line for line in self.lines if since is None or line[0] >= since]


def test_collect_appends_each_line_once(state_dir: Path) -> None:
    logs = Logs()
    logs.lines = [("2026-11-26T15:39:24.1Z", LINE), ("2026-11-26T15:39:25.25Z", DENIED)]
    folder = state_dir / "sessions" / SESSION
    assert collect(logs, SESSION, folder) == 2
    assert collect(logs, SESSION, folder) == 0  # `--since` is inclusive: the last line again
    assert logs.since == [None, "2026-11-26T15:39:25.25Z"]
    logs.lines.append(("2026-11-26T15:39:25.3Z", LINE))
    assert collect(logs, SESSION, folder) == 1
    logs.cid = "c2"  # a replaced proxy: its log is read from the start
    logs.lines = [("2026-11-26T15:40:00Z", DENIED)]
    assert collect(logs, SESSION, folder) == 1
    records = list(audit.read(SESSION, kinds=["egress"]))
    assert [r["decision"] for r in records] == ["allowed", "refused", "allowed", "refused"]
    assert [r["client"] for r in records] == ["a", "b", "a", "b"]
    assert records[0]["time"] == "2026-11-26T15:39:24.766Z"
    assert logs.observed == 3  # once per collection that found new lines, never per record


def test_collect_names_the_client_from_the_engine_not_the_proxy(state_dir: Path) -> None:
    logs = Logs()
    fresh = LINE.replace("aifo-s-a.aifo-s-net", "-")  # the proxy's lookup had not answered
    forged = LINE.replace("aifo-s-a.aifo-s-net", "aifo-s-b.aifo-s-net")  # a's address, b's name
    stranger = LINE.replace("172.21.0.3", "172.21.0.9")  # no container of the session there
    logs.lines = [
        ("2026-11-26T15:39:24.1Z", fresh),
        ("2026-11-26T15:39:24.2Z", forged),
        ("2026-11-26T15:39:24.3Z", stranger),
    ]
    assert collect(logs, SESSION, state_dir / "sessions" / SESSION) == 3
    first, lie, unknown = audit.read(SESSION, kinds=["egress"])
    assert first["client"] == "a" and first["source"] == "172.21.0.3"
    assert "proxy_client" not in first and "unnamed" not in first
    assert lie["client"] == "a" and lie["proxy_client"] == "b"
    assert lie["source"] == "aifo-s-b.aifo-s-net"  # the proxy's word, kept as evidence
    assert unknown["client"] is None and unknown["proxy_client"] == "a"
    assert "no container of the session" in unknown["unnamed"]
    assert logs.observed == 1


def test_collect_without_new_lines_observes_nothing(state_dir: Path) -> None:
    logs = Logs()
    assert collect(logs, SESSION, state_dir / "sessions" / SESSION) == 0
    assert logs.observed == 0


def test_no_proxy_no_records(state_dir: Path) -> None:
    logs = Logs()
    logs.cid = None  # type: ignore[assignment]
    assert collect(logs, SESSION, state_dir / "x") == 0
