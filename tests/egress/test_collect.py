"""The proxy's access log into audit records (aifo.egress.collect). Log lines are fed by a stub
log source (pure logic: the cursor, parsing, de-duplication); the real engine path is in
test_egress_docker.py."""

from __future__ import annotations

from pathlib import Path

from aifo.egress.collect import client_of, collect, parse
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
    assert ok == {
        "time": "2026-11-26T15:39:24.766Z",
        "client": "a",
        "source": "aifo-s-a.aifo-s-net",
        "address": "172.21.0.3",
        "method": "GET",
        "target": "allowed.test:80",
        "status": 200,
        "decision": "allowed",
    }
    refused = parse(DENIED, SESSION)
    assert refused is not None and refused["decision"] == "refused"
    assert refused["client"] == "b" and refused["target"] == "x.org:443"


def test_parse_skips_probes_foreign_and_torn_lines() -> None:
    probe = "aifo-egress\t1.0\t127.0.0.1\tlocalhost\t-\t-\t-\t0\tNONE_NONE"
    for line in (probe, "squid says hi", LINE[:40], LINE.replace("\t200\t", "\tx\t")):
        assert parse(line, SESSION) is None


def test_client_of() -> None:
    assert client_of("aifo-s-a.aifo-s-net", "s") == "a"
    assert client_of("aifo-other-a.net", "s") is None
    assert client_of("-", "s") is None


class Logs:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.cid = "c1"
        self.since: list[str | None] = []

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
    assert records[0]["time"] == "2026-11-26T15:39:24.766Z"


def test_no_proxy_no_records(state_dir: Path) -> None:
    logs = Logs()
    logs.cid = None  # type: ignore[assignment]
    assert collect(logs, SESSION, state_dir / "x") == 0
