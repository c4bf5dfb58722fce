"""Secure defaults and uid mapping on the real engine (docs/catalog.md, "Secure defaults").

One session is applied for the module (`aifo apply` as a process) and destroyed at the end:
what `docker inspect` says, what holds inside the containers, who owns the files they write,
and a catalog agent profile (image replaced by busybox) running as a uid without a passwd entry.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.security.helpers import IDLE, IMAGE, aifo, engine_security_options, inspect

pytestmark = [pytest.mark.docker, pytest.mark.timeout(120)]

SPEC = f"""\
version: 1
session: {{session}}
extends: [agent/codex]
workspace: {{{{path: ./ws}}}}
agents:
  dev:  # every default: runs as the invoking uid:gid, workspace mounted
    image: {IMAGE}
    pull: never
    command: {IDLE}
  codex:  # the catalog profile: HOME is a tmpfs, ~/.codex bound read-only (create: true)
    image: {IMAGE}
    pull: never
    user: "1234:1234"
toolchains:
  fixed:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    user: "1234:1234"
services:
  plain:  # the image's user (root in busybox), still without capabilities
    image: {IMAGE}
    pull: never
    command: {IDLE}
  locked:
    image: {IMAGE}
    pull: never
    command: {IDLE}
    security: {{{{read_only: true, cap_add: [CHOWN]}}}}
    allow: [capabilities]
"""
# The Docker names of every container; all but `locked` keep every default.
DEFAULTS = ("dev", "codex", "fixed", "plain")


@dataclass(frozen=True)
class Applied:
    session: str
    spec: Path
    env: dict[str, str]
    workspace: Path
    home: Path

    def docker_name(self, name: str) -> str:
        return f"aifo-{self.session}-{name}"

    def sh(self, name: str, script: str, *options: str) -> str:
        """Run `sh -c SCRIPT` through `aifo exec`; return its stdout (stderr on failure)."""
        done = aifo("exec", self.spec, name, *options, "--", "sh", "-c", script, env=self.env)
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture(scope="module")
def applied(
    module_session_name: str, tmp_path_factory: pytest.TempPathFactory, busybox_image: str
) -> Iterator[Applied]:
    root = tmp_path_factory.mktemp("secure")
    workspace, home = root / "ws", root / "home"
    workspace.mkdir()
    workspace.chmod(0o777)  # uid 1234 writes here too
    home.mkdir()
    spec = root / "aifo.yaml"
    spec.write_text(SPEC.format(session=module_session_name))
    # HOME decides where `~/.codex` is; it does not exist yet (the profile says create: true).
    env = {"AIFO_STATE_DIR": str(root / "state"), "HOME": str(home)}
    done = aifo("apply", spec, env=env)
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        # apply says what was allowed (issue 13), as validate and plan do
        assert (
            "services.locked.security.cap_add: adding capabilities (CHOWN) (allowed by allow: "
            "capabilities)" in done.stderr
        ), done.stderr
        yield Applied(module_session_name, spec, env, workspace, home)
    finally:
        gone = aifo("destroy", spec, "--yes", env=env)
        assert gone.returncode == 0, gone.stderr


def _caps(values: list[str] | None) -> set[str]:
    return {v.upper().removeprefix("CAP_") for v in values or ()}


@pytest.mark.parametrize("name", DEFAULTS)
@pytest.mark.slow
def test_docker_inspect_shows_the_secure_defaults(applied: Applied, name: str) -> None:
    host = inspect(applied.docker_name(name))["HostConfig"]
    assert _caps(host["CapDrop"]) == {"ALL"}
    assert not host["CapAdd"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["PidsLimit"] == 4096
    assert host["Init"] is True
    assert host["Privileged"] is False
    assert host["ReadonlyRootfs"] is True  # the default for every role (issue 13)
    assert "/tmp" in (host["Tmpfs"] or {})


def test_apparmor_profile_follows_what_the_engine_reports(applied: Applied) -> None:
    """This engine likely reports no AppArmor: then no container asks for a profile."""
    apparmor = any(o.split(",")[0] == "name=apparmor" for o in engine_security_options())
    for name in (*DEFAULTS, "locked"):
        opts = inspect(applied.docker_name(name))["HostConfig"]["SecurityOpt"]
        assert ("apparmor=docker-default" in opts) is apparmor, (name, opts)


def test_no_capabilities_and_no_new_privileges_inside(applied: Applied) -> None:
    out = applied.sh(
        "plain",
        "id -u; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; touch /tmp/f; "
        "chown 5:5 /tmp/f 2>/dev/null && echo chown-allowed || echo chown-refused",
    )
    lines = out.split()
    assert lines[0] == "0"  # root in the container, and still powerless
    assert "0000000000000000" in lines and lines[lines.index("NoNewPrivs:") + 1] == "1"
    assert "chown-refused" in lines


def test_read_only_root_gets_a_tmp_and_cap_add_is_granted(applied: Applied) -> None:
    info = inspect(applied.docker_name("locked"))
    host = info["HostConfig"]
    assert host["ReadonlyRootfs"] is True
    assert _caps(host["CapAdd"]) == {"CHOWN"} and _caps(host["CapDrop"]) == {"ALL"}
    assert "exec" in host["Tmpfs"]["/tmp"].split(",")
    out = applied.sh(
        "locked",
        "touch /root-fs 2>/dev/null && echo root-writable || echo root-read-only; "
        "touch /tmp/f && chown 5:5 /tmp/f && stat -c %u /tmp/f",
    )
    assert out.split() == ["root-read-only", "5"]


def test_default_user_is_the_invoking_uid_and_owns_workspace_files(applied: Applied) -> None:
    uid, gid = os.getuid(), os.getgid()
    assert inspect(applied.docker_name("dev"))["Config"]["User"] == f"{uid}:{gid}"
    assert applied.sh("dev", "id -u; id -g; pwd; touch made-by-dev").split() == [
        str(uid),
        str(gid),
        "/workspace",  # the workspace is the working folder
    ]
    made = (applied.workspace / "made-by-dev").stat()
    assert (made.st_uid, made.st_gid) == (uid, gid)


def test_explicit_user_owns_its_workspace_files(applied: Applied) -> None:
    assert inspect(applied.docker_name("fixed"))["Config"]["User"] == "1234:1234"
    assert applied.sh("fixed", "id -u; touch made-by-fixed").split() == ["1234"]
    made = (applied.workspace / "made-by-fixed").stat()
    assert (made.st_uid, made.st_gid) == (1234, 1234)


@pytest.mark.slow
def test_catalog_home_is_writable_for_a_uid_the_image_does_not_know(applied: Applied) -> None:
    assert (applied.home / ".codex").is_dir()  # created by apply: `create: true`
    out = applied.sh(
        "codex",
        'grep -c ":1234:" /etc/passwd; id -u; echo "$HOME"; touch "$HOME/notes" && echo home-ok; '
        'touch "$HOME/.codex/x" 2>/dev/null && echo config-writable || echo config-read-only',
    )
    assert out.split() == ["0", "1234", "/home/aifo", "home-ok", "config-read-only"]
    assert list((applied.home / ".codex").iterdir()) == []


@pytest.mark.parametrize("name", ["dev", "fixed"])
def test_read_only_root_keeps_an_executable_tmp_and_a_writable_home(
    applied: Applied, name: str
) -> None:
    """Real tools write to HOME and run what they put in /tmp (e.g. a build script)."""
    out = applied.sh(
        name,
        'touch /root-fs 2>/dev/null && echo root-writable || echo root-read-only; echo "$HOME"; '
        "cp /bin/busybox /tmp/true && /tmp/true && echo tmp-exec; "
        'cp /bin/busybox "$HOME/true" && "$HOME/true" && echo home-exec',
    )
    assert out.split() == ["root-read-only", "/home/aifo", "tmp-exec", "home-exec"]
