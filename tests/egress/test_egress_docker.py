"""Egress allowlists on the real engine (docs/egress.md). Local targets only: two busybox httpd
upstreams on a network the test creates, reached by the aliases `allowed.test` / `denied.test`;
that network is the spec's `via` (external). No traffic leaves the host.

One session serves the read-only checks (module scope: the proxy image build and the apply are
paid once); the in-place change, the rollback and the audit use it in order afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_IMAGE, engine_available
from tests.security.helpers import aifo, docker

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PAGE = "hello from the upstream"


def spec(session: str, upstream: str, *, a_allow: list[str], b_allow: list[str]) -> str:
    return textwrap.dedent(
        f"""\
        version: 1
        session: {session}
        networks:
          sandbox: {{internal: true}}
          upstream: {{external: true, name: {upstream}}}
        agents:
          a:
            image: {TEST_IMAGE}
            pull: never
            command: [sleep, infinity]
            networks: [sandbox]
            workspace: false
            egress: {{allow: {json.dumps(a_allow)}, via: upstream}}
          b:
            image: {TEST_IMAGE}
            pull: never
            command: [sleep, infinity]
            workspace: false
            egress: {{allow: {json.dumps(b_allow)}, via: upstream}}
        toolchains:
          plain:
            image: {TEST_IMAGE}
            pull: never
            command: [sleep, infinity]
            networks: [sandbox]
            workspace: false
        """
    )


class Env:
    def __init__(self, root: Path, session: str, upstream: str) -> None:
        self.root = root
        self.session = session
        self.upstream = upstream
        self.file = root / "aifo.yaml"
        self.state = root.parent / f"{root.name}-state"
        self.state.mkdir(exist_ok=True)

    def write(self, *, a_allow: list[str], b_allow: list[str]) -> None:
        self.file.write_text(spec(self.session, self.upstream, a_allow=a_allow, b_allow=b_allow))

    def aifo(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return aifo(*argv, env={"AIFO_STATE_DIR": str(self.state)}, cwd=self.root)

    def apply(self) -> subprocess.CompletedProcess[str]:
        return self.aifo("apply", str(self.file), "--yes")

    def name(self, container: str) -> str:
        return f"aifo-{self.session}-{container}"

    def fetch(self, container: str, url: str, *, proxy: bool = True) -> tuple[int, str]:
        """wget in the container (its proxy env, or none): exit code and output."""
        script = f"timeout 10 wget -q -O - {url} 2>&1"
        if not proxy:
            script = "unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY; " + script
        done = subprocess.run(
            ["docker", "exec", self.name(container), "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return done.returncode, done.stdout + done.stderr

    def container_id(self, container: str) -> str:
        return docker("inspect", "-f", "{{.Id}}", self.name(container)).strip()

    def audit(self) -> list[dict[str, Any]]:
        done = self.aifo("audit", str(self.file), "--kind", "egress", "-o", "json")
        assert done.returncode == 0, done.stderr
        return list(json.loads(done.stdout))


@pytest.fixture(scope="module")
def upstream(module_session_name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A plain bridge network with two httpd upstreams (aliases allowed.test, denied.test)."""
    if not engine_available():
        pytest.fail("no Docker engine answers (run scripts/ensure-docker)")
    www = tmp_path_factory.mktemp("www")
    (www / "index.html").write_text(PAGE + "\n")
    www.chmod(0o755)
    net = f"{module_session_name}-upstream"
    names = [f"{module_session_name}-allowed", f"{module_session_name}-denied"]
    docker("network", "create", "--label", f"io.aifo.session={module_session_name}", net)
    try:
        for name, alias in zip(names, ("allowed.test", "denied.test"), strict=True):
            extra = ["--network-alias", "api.wild.test"] if alias == "allowed.test" else []
            docker(
                "run", "-d", "--name", name, "--network", net, "--network-alias", alias, *extra,
                "--label", f"io.aifo.session={module_session_name}",
                "--mount", f"type=bind,src={www},dst=/www,readonly",
                TEST_IMAGE, "httpd", "-f", "-p", "80", "-h", "/www",
            )  # fmt: skip
        yield net
    finally:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True, check=False)
        subprocess.run(["docker", "network", "rm", net], capture_output=True, check=False)


@pytest.fixture(scope="module")
def env(
    upstream: str, module_session_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Env]:
    session = f"{module_session_name}-s"
    e = Env(tmp_path_factory.mktemp("egress"), session, upstream)
    e.write(a_allow=["allowed.test", "*.wild.test:80"], b_allow=[])
    try:
        done = e.apply()
        assert done.returncode == 0, done.stdout + done.stderr
        yield e
    finally:
        e.aifo("destroy", str(e.file), "--yes")  # the proxy image stays: shared, by content


def test_allowed_host_gets_the_page(env: Env) -> None:
    code, out = env.fetch("a", "http://allowed.test/")
    assert code == 0, out
    assert PAGE in out


def test_wildcard_allows_names_under_the_domain(env: Env) -> None:
    code, out = env.fetch("a", "http://api.wild.test/")
    assert code == 0 and PAGE in out, out
    code, out = env.fetch("a", "http://api.wild.test:8080/")  # the rule names port 80 only
    assert code != 0 and "403" in out


def test_denied_host_is_refused_with_403(env: Env) -> None:
    code, out = env.fetch("a", "http://denied.test/")
    assert code != 0
    assert "403" in out


def test_connect_only_to_allowed_host_and_port(env: Env) -> None:
    """HTTPS goes through CONNECT: allowed host:port tunnels, another port is refused."""

    def connect(target: str) -> str:
        request = f"CONNECT {target} HTTP/1.1\\r\\nHost: {target}\\r\\n\\r\\n"
        done = subprocess.run(
            ["docker", "exec", env.name("a"), "sh", "-c",
             f'printf "{request}" | timeout 5 nc egress-proxy 3128 | head -n 1'],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        return done.stdout

    assert " 200 " in connect("allowed.test:443") or " 503 " in connect("allowed.test:443")
    assert " 403 " in connect("allowed.test:8080")
    assert " 403 " in connect("denied.test:443")


def test_direct_connection_has_no_route(env: Env) -> None:
    """Without the proxy: the upstream's name does not resolve and its address is unreachable."""
    code, out = env.fetch("a", "http://allowed.test/", proxy=False)
    assert code != 0, out
    address = docker(
        "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        f"{env.upstream.removesuffix('-upstream')}-allowed",
    ).strip()  # fmt: skip
    code, out = env.fetch("a", f"http://{address}/", proxy=False)
    assert code != 0, out
    assert PAGE not in out


def test_one_clients_allowlist_does_not_open_hosts_for_another(env: Env) -> None:
    code, out = env.fetch("b", "http://allowed.test/")
    assert code != 0 and "403" in out, out
    # nor does a container without egress on the proxy's network get anything through it
    done = subprocess.run(
        ["docker", "exec", env.name("plain"), "sh", "-c",
         "http_proxy=http://egress-proxy:3128 timeout 10 wget -q -O - http://allowed.test/ 2>&1"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0 and "403" in done.stdout, done.stdout


def test_clients_get_proxy_env_and_stay_internal(env: Env) -> None:
    info = json.loads(docker("inspect", env.name("a")))[0]
    vars_ = dict(v.split("=", 1) for v in info["Config"]["Env"])
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        assert vars_[key] == "http://egress-proxy:3128"
    assert "plain" in vars_["NO_PROXY"].split(",")
    assert vars_["NO_PROXY"] == vars_["no_proxy"]
    nets = info["NetworkSettings"]["Networks"]
    assert list(nets) == [f"aifo-{env.session}-sandbox"]
    b_nets = json.loads(docker("inspect", env.name("b")))[0]["NetworkSettings"]["Networks"]
    assert list(b_nets) == [f"aifo-{env.session}-egress-b"]
    for net in [*nets, *b_nets]:
        assert docker("network", "inspect", "-f", "{{.Internal}}", net).strip() == "true"


def test_plan_security_summary_shows_reach(env: Env) -> None:
    done = env.aifo("plan", str(env.file))
    assert done.returncode == 0, done.stderr
    assert "egress: only allowed.test, *.wild.test:80 via upstream" in done.stdout
    assert "egress: only no hosts via upstream" in done.stdout
    assert "egress: none" in done.stdout  # the toolchain: internal only


def test_allowlist_change_is_applied_in_place(env: Env) -> None:
    before = {c: env.container_id(c) for c in ("a", "b", "plain")}
    proxy_before = env.container_id("egress-proxy")
    env.write(a_allow=["allowed.test"], b_allow=["denied.test:80"])
    done = env.apply()
    assert done.returncode == 0, done.stdout + done.stderr
    assert {c: env.container_id(c) for c in before} == before  # no client recreated
    assert env.container_id("egress-proxy") != proxy_before
    code, out = env.fetch("b", "http://denied.test/")
    assert code == 0 and PAGE in out, out
    code, out = env.fetch("b", "http://allowed.test/")
    assert code != 0 and "403" in out
    code, out = env.fetch("a", "http://allowed.test/")
    assert code == 0, out


def test_broken_proxy_configuration_is_rolled_back(env: Env) -> None:
    """squid refusing its rules fails the apply; the old proxy keeps serving the old rules."""
    ids = {c: env.container_id(c) for c in ("a", "b", "plain", "egress-proxy")}
    env.write(a_allow=["allowed.test", "denied.test"], b_allow=["denied.test:80"])
    broken = env.root / "sitecustomize.py"
    broken.write_text(
        "from aifo.egress import squid\nsquid._BASE += 'this_is_not_a_squid_directive on\\n'\n"
    )
    done = aifo(
        "apply", str(env.file), "--yes",
        env={"AIFO_STATE_DIR": str(env.state), "PYTHONPATH": str(env.root)}, cwd=env.root,
    )  # fmt: skip
    broken.unlink()
    assert done.returncode == 1, done.stdout + done.stderr
    assert "hook/egress-proxy/ready" in done.stderr, done.stderr
    # why: the proxy stopped, and squid's own words (its output, kept in the error report)
    assert "service/egress-proxy stopped (exit code 1)" in done.stderr, done.stderr
    assert "this_is_not_a_squid_directive" in done.stderr, done.stderr
    assert "squid refused the configuration" in done.stderr, done.stderr
    assert {c: env.container_id(c) for c in ids} == ids
    code, out = env.fetch("a", "http://denied.test/")  # the new rule never took effect
    assert code != 0 and "403" in out
    code, out = env.fetch("a", "http://allowed.test/")
    assert code == 0, out
    env.write(a_allow=["allowed.test"], b_allow=["denied.test:80"])


def test_audit_records_every_decision(env: Env) -> None:
    # Self-contained (issue 22): only decisions made after this point count, and no apply
    # (which also collects) runs between them and `aifo audit`: the audit itself collects.
    since = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    env.fetch("a", "http://allowed.test/audit-ok")
    env.fetch("b", "http://allowed.test/audit-refused")
    records = env.audit()
    fresh = {(r["client"], r["target"], r["decision"]) for r in records if r["time"] >= since}
    assert ("a", "allowed.test:80", "allowed") in fresh
    assert ("b", "allowed.test:80", "refused") in fresh
    decisions = {(r["client"], r["target"], r["decision"]) for r in records}
    for r in records:
        assert r["kind"] == "egress" and r["time"].endswith("Z") and r["method"]
    # earlier proxies' decisions survived their replacement (collected before it)
    assert ("a", "denied.test:80", "refused") in decisions
    again = env.audit()  # collecting twice appends nothing twice
    assert len(again) == len(records)
    assert os.stat(env.state / "sessions" / env.session / "audit.jsonl").st_mode & 0o077 == 0
