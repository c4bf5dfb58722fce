"""`aifo plan` ends with the security summary: plain lines when piped, a `security` key in JSON.

Who reaches outside networks, which host paths are writable, which secrets (names only: no value
in any output), which capabilities are added. `aifo plan` as a process with its output piped,
on an unapplied session (plan observes Docker but changes nothing).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.security.helpers import IDLE, IMAGE, aifo

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]

SPEC = f"""\
version: 1
session: {{session}}
workspace: {{{{path: ./ws}}}}
networks:
  egress: {{{{}}}}
  sandbox: {{{{internal: true}}}}
agents:
  dev:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    networks: [egress, sandbox]
    env:
      PLAIN: visible
      API_TOKEN: {{{{from_host: AIFO_TEST_PLAN_TOKEN, secret: true}}}}
      FILE_TOKEN: {{{{from_file: ./token.txt}}}}
      LITERAL: {{{{value: {{literal}}, secret: true}}}}
    security: {{{{cap_add: [NET_ADMIN]}}}}
    allow: [capabilities]
services:
  db:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    networks: [sandbox]
"""


@dataclass(frozen=True)
class Planned:
    spec: Path
    env: dict[str, str]
    values: tuple[str, ...]  # every secret's value: none may appear in any output

    def plan(self, *options: str) -> subprocess.CompletedProcess[str]:
        done = aifo("plan", self.spec, *options, env=self.env)
        assert done.returncode == 0, done.stderr
        for value in self.values:
            assert value not in done.stdout + done.stderr
        return done


@pytest.fixture
def planned(session_name: str, tmp_path: Path, busybox_image: str) -> Planned:
    env_value, file_value, literal = (f"{k}-{secrets.token_hex(8)}" for k in ("e", "f", "l"))
    (tmp_path / "ws").mkdir()
    (tmp_path / "token.txt").write_text(file_value)
    spec = tmp_path / "aifo.yaml"
    spec.write_text(SPEC.format(session=session_name, literal=literal))
    env = {"AIFO_STATE_DIR": str(tmp_path / "state"), "AIFO_TEST_PLAN_TOKEN": env_value}
    return Planned(spec, env, (env_value, file_value, literal))


def test_plan_text_ends_with_the_security_summary(planned: Planned) -> None:
    done = planned.plan()
    spec = planned.spec
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Plan for session") and "4 to create" in lines[0]
    root = ", root/image user" if os.getuid() == 0 else ""
    assert lines[lines.index("Security summary:") :] == [
        "Security summary:",
        "  agent/dev",
        "    networks: egress: egress",
        "    egress: any (egress)",
        "    host: egress",
        f"    writable host paths: {spec.parent / 'ws'}",
        "    secrets (names): API_TOKEN, FILE_TOKEN, LITERAL",
        f"    privileges: +NET_ADMIN{root}",
        "  service/db",
        "    networks: internal only: sandbox",
        "    egress: none",
        "    host: none",
        "    writable host paths: -",
        "    secrets (names): -",
        "    privileges: root/image user",  # a service runs as the image's user
        "warning: agent/dev: adds capabilities: NET_ADMIN",
        "warning: agent/dev: holds secrets and can reach outside networks",
    ]
    assert "\x1b[" not in done.stdout  # no colour or cursor codes in a pipe
    # what `allow:` let through is said on stderr (issue 13), as apply and validate do
    assert (
        "agents.dev.security.cap_add: adding capabilities (NET_ADMIN) (allowed by allow: "
        "capabilities)" in done.stderr
    ), done.stderr


def test_plan_json_has_a_security_key(planned: Planned) -> None:
    payload = json.loads(planned.plan("-o", "json").stdout)
    by_id = {item["container"]: item for item in payload["security"]}
    dev, db = by_id["agent/dev"], by_id["service/db"]
    assert (dev["egress"], dev["egress_networks"], dev["internal_networks"]) == (
        True,
        ["egress"],
        ["sandbox"],
    )
    assert dev["writable_host_paths"] == [str(planned.spec.parent / "ws")]
    assert dev["secrets"] == ["API_TOKEN", "FILE_TOKEN", "LITERAL"]
    assert dev["cap_add"] == ["NET_ADMIN"] and dev["drops_all_caps"] is True
    assert "holds secrets and can reach outside networks" in dev["risks"]
    assert (db["egress"], db["internal_networks"], db["secrets"], db["cap_add"]) == (
        False,
        ["sandbox"],
        [],
        [],
    )
