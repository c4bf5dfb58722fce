"""The one host-path policy, on every route by which host content reaches a container or an
image (issue 13): binds, the workspace, from_file, .env, profiles, build contexts, Dockerfiles.

The host's facts (engine sockets, protected files) are injected: a socket and a "protected" file
are made under tmp_path, so nothing here depends on (or touches) the real /var/run or /etc.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aifo.errors import SpecError
from aifo.host.files import UnreadableFile, read_bounded
from aifo.sessionspec import ResolvedSpec, resolve
from aifo.sessionspec.hostfacts import HostFacts, facts_for

HEAD = "version: 1\nsession: demo\n"


class Host:
    """A fake host: a project, a home, an engine socket in a run folder, a protected file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.project = root / "project"
        self.home = root / "home"
        self.run = root / "run"
        for folder in (self.project, self.home, self.run / "docker"):
            folder.mkdir(parents=True)
        self.sock = self.run / "docker.sock"
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(self.sock))
        self.shadow = root / "etc-shadow"
        self.shadow.write_text("root:$6$secret-hash:1::::::\n", encoding="utf-8")
        (self.home / ".aws").mkdir()
        (self.home / ".aws" / "credentials").write_text("[default]\nkey=k\n", encoding="utf-8")
        self.facts = facts_for(self.home, [str(self.sock)], [str(self.shadow)])

    def spec(self, body: str) -> Path:
        path = self.project / "aifo.yaml"
        path.write_text(HEAD + body, encoding="utf-8")
        return path

    def resolve(self, body: str) -> ResolvedSpec:
        return resolve(self.spec(body), environ={"HOME": str(self.home)}, host=self.facts)

    def errors(self, body: str) -> list[str]:
        with pytest.raises(SpecError) as caught:
            self.resolve(body)
        for issue in caught.value.issues:
            assert issue.location is not None and issue.location.line > 0, str(issue)
        return [f"{i.path}: {i.message}" for i in caught.value.issues]


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    h = Host(tmp_path)
    try:
        yield h
    finally:
        h.server.close()


def _bind(source: str, extra: str = "") -> str:
    return (
        "agents:\n  a:\n    image: busybox\n    workspace: false\n"
        f"    mounts: [{{source: '{source}', target: /x{extra}}}]\n"
    )


@pytest.mark.parametrize("written", ["{run}", "{run}/", "{run}/.", "{run}/docker/..", "{link}"])
def test_a_folder_containing_the_engine_socket_is_refused_however_written(
    host: Host, written: str
) -> None:
    link = host.project / "sockdir"
    link.symlink_to(host.run)
    source = written.format(run=host.run, link=link)
    errors = host.errors(_bind(source))
    assert len(errors) == 1
    assert "is refused: it contains" in errors[0] and str(host.sock) in errors[0]


def test_the_socket_itself_a_symlink_to_it_and_a_hard_link_to_it_are_refused(host: Host) -> None:
    (host.project / "s").symlink_to(host.sock)
    os.link(host.sock, host.project / "innocent")
    for source in (str(host.sock), "./s", "./innocent"):
        errors = host.errors(_bind(source))
        assert errors and "container-engine socket" in errors[0], source


def test_a_socket_found_inside_a_mounted_folder_is_refused(host: Host) -> None:
    (host.project / "sub").mkdir()
    os.link(host.sock, host.project / "sub" / "engine")
    errors = host.errors(_bind("./sub"))
    assert errors == [
        f"agents.a.mounts[0].source: mount source {host.project / 'sub'} is refused: "
        f"{host.project / 'sub' / 'engine'} is a container-engine socket, which gives full "
        "control of the host"
    ]


def test_the_workspace_holding_the_socket_is_refused(host: Host) -> None:
    errors = host.errors(f"workspace: {{path: '{host.run}'}}\nagents:\n  a: {{image: busybox}}\n")
    assert errors and errors[0].startswith("workspace.path: workspace")
    assert "container-engine socket" in errors[0]


def test_the_socket_opt_in_turns_the_refusal_into_a_warning(host: Host) -> None:
    spec = host.resolve(_bind(str(host.run), ", allow: docker-socket"))
    assert any("allowed by allow: docker-socket" in w.message for w in spec.warnings)


def test_a_hard_link_to_a_protected_file_is_refused_as_a_bind_and_as_from_file(
    host: Host,
) -> None:
    os.link(host.shadow, host.project / "notes.txt")
    errors = host.errors(_bind("./notes.txt"))
    assert errors == [
        f"agents.a.mounts[0].source: mount source {host.project / 'notes.txt'} is refused: "
        f"{host.project / 'notes.txt'} is a hard link to {host.shadow}"
    ]
    errors = host.errors(
        "agents:\n  a:\n    image: busybox\n    workspace: false\n"
        "    env: {T: {from_file: ./notes.txt}}\n"
    )
    assert len(errors) == 1 and "is a hard link to" in errors[0]


@pytest.mark.parametrize(
    ("source", "reason", "allow"),
    [
        ("~/.aws/credentials", "~/.aws holds cloud credentials", "credentials"),
        ("/etc/shadow", "/etc is a host system folder", "sensitive"),
        ("/etc/hostname", "/etc is a host system folder", "sensitive"),
    ],
)
def test_from_file_passes_the_same_policy(host: Host, source: str, reason: str, allow: str) -> None:
    body = (
        "agents:\n  a:\n    image: busybox\n    workspace: false\n"
        f"    env: {{T: {{from_file: '{source}'}}}}\n"
    )
    errors = host.errors(body)
    assert len(errors) == 1 and errors[0].startswith("agents.a.env.T.from_file: from_file")
    assert reason in errors[0]
    opted = body.replace("}}\n", f", allow: {allow}}}}}\n")
    spec = host.resolve(opted)
    assert any(reason in w.message for w in spec.warnings)


@pytest.mark.parametrize(
    ("context", "reason"),
    [("~/.aws", "~/.aws holds cloud credentials"), ("/etc", "/etc is a host system folder")],
)
def test_build_contexts_pass_the_same_policy(host: Host, context: str, reason: str) -> None:
    errors = host.errors(
        f"agents:\n  a:\n    workspace: false\n    image: {{build: {{context: '{context}'}}}}\n"
    )
    assert errors and errors[0].startswith("agents.a.image.build.context: build context")
    assert reason in errors[0]


def test_a_dockerfile_outside_the_context_or_not_a_file_is_refused(host: Host) -> None:
    ctx = host.project / "ctx"
    ctx.mkdir()
    (host.project / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    os.mkfifo(ctx / "Fifo")
    body = (
        "agents:\n  a:\n    workspace: false\n"
        "    image: {{build: {{context: ./ctx, dockerfile: {df}}}}}\n"
    )
    assert host.errors(body.format(df="../Dockerfile")) == [
        f"agents.a.image.build.dockerfile: Dockerfile {host.project / 'Dockerfile'} is outside "
        f"the build context {ctx}"
    ]
    assert host.errors(body.format(df="Fifo")) == [
        f"agents.a.image.build.dockerfile: Dockerfile {ctx / 'Fifo'} is refused: it is a FIFO "
        "(named pipe), not a regular file"
    ]


@pytest.mark.parametrize("kind", ["fifo", "socket", "folder", "devzero", "big"])
def test_from_file_reads_only_regular_files_under_the_cap(host: Host, kind: str) -> None:
    target = host.project / "secret"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "socket":
        target = host.sock
    elif kind == "folder":
        target.mkdir()
    elif kind == "devzero":
        target = Path("/dev/zero")
    else:
        target.write_bytes(b"x" * (128 * 1024 + 1))
    errors = host.errors(
        "agents:\n  a:\n    image: busybox\n    workspace: false\n"
        f"    env: {{T: {{from_file: '{target}', allow: sensitive}}}}\n"
    )
    assert errors, kind
    assert any("is refused: it is" in e for e in errors), errors


def test_read_bounded_never_blocks_on_a_fifo_nor_floods_on_a_device(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UnreadableFile, match="FIFO"):
        read_bounded(fifo, 16)
    with pytest.raises(UnreadableFile, match="character device"):
        read_bounded("/dev/zero", 16)
    big = tmp_path / "big"
    big.write_bytes(b"x" * 17)
    with pytest.raises(UnreadableFile, match="bytes"):
        read_bounded(big, 16)
    assert read_bounded(big, 17) == b"x" * 17


def test_a_dotenv_that_is_a_fifo_or_a_link_to_credentials_is_refused(host: Host) -> None:
    body = "agents:\n  a: {image: busybox, workspace: false}\n"
    env = host.project / ".env"
    os.mkfifo(env)
    errors = host.errors(body)
    assert errors == [
        ": .env file " + str(env) + " is refused: it is a FIFO (named pipe), not a regular file"
    ]
    env.unlink()
    env.symlink_to(host.home / ".aws" / "credentials")
    errors = host.errors(body)
    assert len(errors) == 1 and "~/.aws holds cloud credentials" in errors[0]


def test_a_profile_from_a_protected_place_is_refused(host: Host) -> None:
    (host.home / ".aws" / "p.yaml").write_text("agents: {}\n", encoding="utf-8")
    errors = host.errors("extends: [~/.aws/p.yaml]\nagents:\n  a: {image: busybox}\n")
    assert len(errors) == 1 and errors[0].startswith("extends: profile file")


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("/tmp/" + "a" * 256, "one of its names is 256 bytes long"),
        ("/tmp/" + "/".join(["b" * 200] * 21), "a path may have at most 4096"),
        ("/proc/1/root/etc", "another process's filesystem view"),
        ("/proc/self/root", "another process's filesystem view"),
    ],
)
def test_hostile_bind_paths_are_located_errors(host: Host, source: str, problem: str) -> None:
    errors = host.errors(_bind(source, ", allow: sensitive, create: true"))
    assert len(errors) == 1 and problem in errors[0]


def test_validate_refuses_a_socket_folder_via_docker_host_with_exit_2(host: Host) -> None:
    """The CLI route: $DOCKER_HOST names the engine socket; its folder is refused, located."""
    spec = host.spec(_bind(str(host.run) + "/"))
    env = {**os.environ, "HOME": str(host.home), "DOCKER_HOST": f"unix://{host.sock}"}
    done = subprocess.run(
        [sys.executable, "-m", "aifo", "validate", str(spec)],
        capture_output=True, text=True, env=env, cwd=host.project, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "aifo.yaml:7:" in done.stdout + done.stderr
    assert "container-engine socket" in done.stdout + done.stderr


def test_real_host_facts_know_the_standard_socket_places() -> None:
    from aifo.sessionspec.hostfacts import host_facts

    facts: HostFacts = host_facts(Path("/nonexistent-home"), {})
    assert (
        Path("/run/docker.sock") in facts.sockets and Path("/var/run/docker.sock") in facts.sockets
    )


def test_another_accounts_private_folders_are_protected_too(host: Host) -> None:
    """`~root/.ssh` (or any account's) is not the invoking user's ~/.ssh, and still protected."""
    from dataclasses import replace

    other = host.root / "other-home"
    (other / ".ssh").mkdir(parents=True)
    host.facts = replace(host.facts, other_homes=(other,))
    errors = host.errors(_bind(str(other / ".ssh"), ", read_only: true"))
    assert len(errors) == 1 and "is another account's private folder" in errors[0]
