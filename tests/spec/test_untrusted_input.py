"""A hostile repository's spec (issue 22): aifo's state folder and credential folders stay out of
containers, `pass_env` cannot steer what routed programs load, patterns that guard input match
whole strings, odd spec paths are named for what they are, and a huge spec is refused early.

The host's facts are injected (a fake home, a fake state folder), as in test_hostpaths.py.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from aifo.errors import SpecError
from aifo.model import Container, Mount, Network, Session
from aifo.plan.security import summarize
from aifo.sessionspec import ResolvedSpec, resolve
from aifo.sessionspec.hostfacts import HostFacts, facts_for, written_and_real
from aifo.ui.security import security_json, security_lines

REPO = Path(__file__).resolve().parents[2]
HEAD = "version: 1\nsession: demo\n"


class Host:
    """A project, a home with credential folders, aifo's state folder at its default place."""

    def __init__(self, root: Path) -> None:
        self.project = root / "project"
        self.home = root / "home"
        self.state = self.home / ".local" / "state" / "aifo"
        for folder in (self.project, self.state / "sessions", self.home / ".ssh"):
            folder.mkdir(parents=True)
        self.facts = self.with_state(self.state)

    def with_state(self, state: Path) -> HostFacts:
        facts = facts_for(self.home, [], [])
        return HostFacts(**{**facts.__dict__, "state_dirs": written_and_real(state)})

    def resolve(self, body: str, facts: HostFacts | None = None) -> ResolvedSpec:
        path = self.project / "aifo.yaml"
        path.write_text(HEAD + body, encoding="utf-8")
        return resolve(path, environ={"HOME": str(self.home)}, host=facts or self.facts)

    def issues(self, body: str, facts: HostFacts | None = None) -> list[str]:
        with pytest.raises(SpecError) as caught:
            self.resolve(body, facts)
        for issue in caught.value.issues:
            assert issue.location is not None and issue.location.line > 0, str(issue)
        return [str(i) for i in caught.value.issues]


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


def _bind(source: str, extra: str = "", allow: str = "") -> str:
    return (
        f"agents:\n  a:\n    image: busybox\n    workspace: false\n{allow}"
        f"    mounts:\n      - {{source: '{source}', target: /m{extra}}}\n"
    )


# -- 1. aifo's state folder and every folder holding it -----------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "~/.local/state/aifo",
        "~/.local/state/aifo/sessions",
        "~/.local/state",
        "~/.local",
    ],
)
@pytest.mark.parametrize("read_only", [False, True])
@pytest.mark.parametrize("allow", ["", "    allow: [sensitive, credentials, docker-socket]\n"])
def test_the_state_folder_and_its_parents_are_refused_with_no_opt_in(
    host: Host, source: str, read_only: bool, allow: str
) -> None:
    extra = ", read_only: true" if read_only else ""
    issues = host.issues(_bind(source, extra, allow))
    [issue] = [i for i in issues if "aifo's own state folder" in i]
    assert f"aifo.yaml:{8 + bool(allow)}:18:" in issue  # located at the mount's source
    assert "is refused" in issue
    assert "nothing opts in to this" in issue  # the fix: point it elsewhere


def test_a_workspace_holding_the_state_folder_is_refused(host: Host) -> None:
    state = host.project / ".aifo-state"
    issues = host.issues("agents:\n  a: {image: busybox}\n", host.with_state(state))
    assert len(issues) == 1 and "workspace" in issues[0]
    assert f"it contains aifo's own state folder ({state})" in issues[0]


def test_a_symlink_to_the_state_folder_is_refused(host: Host) -> None:
    (host.project / "innocent").symlink_to(host.home / ".local" / "state")
    [issue] = host.issues(_bind("./innocent"))
    assert "aifo's own state folder" in issue


def test_a_sibling_of_the_state_folder_is_fine(host: Host) -> None:
    (host.home / ".local" / "state" / "other").mkdir()
    host.resolve(_bind("~/.local/state/other"))


@pytest.mark.parametrize(
    ("env", "where"),
    [
        ({"AIFO_STATE_DIR": "{root}/custom/aifo"}, "{root}/custom"),
        ({"XDG_STATE_HOME": "{root}/xdg"}, "{root}/xdg"),
        ({}, "{root}/home/.local/state"),
    ],
)
def test_the_cli_knows_where_the_state_folder_is(
    tmp_path: Path, env: dict[str, str], where: str
) -> None:
    """Each of aifo.state.folder's three places reaches the policy from the command line."""
    (tmp_path / "home").mkdir()
    source = where.format(root=tmp_path)
    os.makedirs(source, exist_ok=True)
    (tmp_path / "aifo.yaml").write_text(HEAD + _bind(source), encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if k not in ("AIFO_STATE_DIR", "XDG_STATE_HOME")}
    filled = {k: v.format(root=tmp_path) for k, v in env.items()}
    proc = subprocess.run(
        [sys.executable, "-m", "aifo", "validate", str(tmp_path / "aifo.yaml")],
        capture_output=True, text=True, timeout=60,
        env={**clean, "HOME": str(tmp_path / "home"), **filled},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "aifo.yaml:8:18:" in proc.stdout and "aifo's own state folder" in proc.stdout


# -- 2. credential folders and files --------------------------------------------------------------

CREDENTIAL_PLACES = [
    "~/.ssh", "~/.ssh/id_ed25519", "~/.docker", "~/.docker/config.json", "~/.kube", "~/.aws",
    "~/.azure", "~/.gnupg", "~/.config/gcloud", "~/.config/gh", "~/.netrc", "~/.npmrc",
    "~/.pypirc", "~/.git-credentials", "~/.cargo/credentials.toml", "~/.config",
]  # fmt: skip


@pytest.mark.parametrize("source", CREDENTIAL_PLACES)
@pytest.mark.parametrize("read_only", [True, False])
def test_credential_places_need_allow_credentials(host: Host, source: str, read_only: bool) -> None:
    extra = (", read_only: true" if read_only else "") + ", create: true"
    [issue] = host.issues(_bind(source, extra))
    assert "aifo.yaml:8:18:" in issue and "is refused" in issue
    assert "allow: credentials" in issue  # the opt-in is named in the hint
    # `sensitive` is another opt-in: it does not cover credentials
    [still] = host.issues(_bind(source, extra, "    allow: [sensitive]\n"))
    assert "allow: credentials" in still
    resolved = host.resolve(_bind(source, extra, "    allow: [credentials]\n"))
    assert any("allowed by allow: credentials" in w.message for w in resolved.warnings)


def test_an_ordinary_dot_folder_needs_no_opt_in(host: Host) -> None:
    host.resolve(_bind("~/.codex", ", read_only: true, create: true"))
    host.resolve(_bind("~/.config/opencode", ", read_only: true, create: true"))


def _container(**kw: object) -> Container:
    base: dict[str, object] = {
        "name": "a", "role": "agent", "docker_name": "aifo-t-a", "image": "busybox",
        "user": "1000:1000", "cap_drop": ("ALL",),
    }  # fmt: skip
    return Container(**{**base, **kw})  # type: ignore[arg-type]


def test_the_security_summary_lists_credentials_and_program_env() -> None:
    home = Path("/home/u")
    mounts = (
        Mount(kind="bind", target="/s", source="/home/u/.ssh", read_only=True),
        Mount(kind="bind", target="/k", source="/home/u/.kube"),
        Mount(kind="bind", target="/w", source="/home/u/src"),
    )
    agent = _container(mounts=mounts)
    tool = _container(name="py", role="toolchain", docker_name="aifo-t-py",
                      pass_env=("LD_PRELOAD", "RUST_LOG"))  # fmt: skip
    session = Session(name="t", networks=(Network(name="n", docker_name="x"),),
                      containers=(agent, tool))  # fmt: skip
    agent_item, tool_item = summarize(session, (home,))
    assert agent_item.credential_paths == ("/home/u/.kube", "/home/u/.ssh (read-only)")
    assert any("mounts credentials" in r for r in agent_item.risks)
    assert tool_item.program_env == ("LD_PRELOAD",)
    assert any("LD_PRELOAD" in r for r in tool_item.risks)
    text = "\n".join(security_lines([agent_item, tool_item]))
    assert "/home/u/.ssh (read-only)" in text and "LD_PRELOAD" in text
    as_json = security_json([agent_item, tool_item])
    assert as_json[0]["credential_paths"] == list(agent_item.credential_paths)
    assert as_json[1]["program_env"] == ["LD_PRELOAD"]


# -- 4. pass_env ----------------------------------------------------------------------------------

PROGRAM_ENV = [
    "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "LD_DEBUG_OUTPUT", "DYLD_INSERT_LIBRARIES",
    "PATH", "BASH_ENV", "ENV", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "NODE_OPTIONS",
    "PERL5LIB", "PERL5OPT", "RUBYOPT", "GCONV_PATH", "IFS", "ld_preload", "GIT_CONFIG_COUNT",
]  # fmt: skip


def _toolchain(names: str, allow: str = "") -> str:
    return (
        f"toolchains:\n  t:\n    image: busybox\n    tools: [cc]\n{allow}    pass_env: [{names}]\n"
    )


@pytest.mark.parametrize("name", PROGRAM_ENV)
def test_pass_env_refuses_what_changes_how_programs_run(host: Host, name: str) -> None:
    [issue] = host.issues(_toolchain(f"RUST_LOG, {name}"))
    assert "aifo.yaml:7:" in issue and f"toolchains.t.pass_env[1]: passing {name}" in issue
    assert "allow: [program-env]" in issue
    resolved = host.resolve(_toolchain(f"RUST_LOG, {name}", "    allow: [program-env]\n"))
    assert any("allowed by allow: program-env" in w.message for w in resolved.warnings)


@pytest.mark.parametrize("name", ["AIFO_EXEC_ID", "AIFO_ROUTE_ID", "AIFO_TTY_SIZE", "aifo_x"])
def test_pass_env_never_passes_aifos_own_variables(host: Host, name: str) -> None:
    for allow in ("", "    allow: [program-env]\n"):
        [issue] = host.issues(_toolchain(name, allow))
        assert f"aifo.yaml:{7 + bool(allow)}:" in issue and "is aifo's own variable" in issue


def test_harmless_pass_env_names_still_pass(host: Host) -> None:
    host.resolve(_toolchain("RUST_LOG, CI, NODE_ENV, PYTHONUNBUFFERED, CFLAGS"))


# -- 5. patterns match whole strings ---------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        'agents:\n  a:\n    image: busybox\n    egress: {allow: ["example.com\\n"]}\n',
        'toolchains:\n  t:\n    image: busybox\n    pass_env: ["FOO\\n"]\n',
        'toolchains:\n  t:\n    image: busybox\n    tools: {"cc\\n": true}\n',
        'agents:\n  "a\\n": {image: busybox}\n',
        'networks:\n  "n\\n": {}\nagents:\n  a: {image: busybox}\n',
        'agents:\n  a:\n    image: "busybox:1\\n"\n',
        'agents:\n  a:\n    image: busybox\n    ports: ["8080:80\\n"]\n',
        'agents:\n  a:\n    image: busybox\n    resources: {memory: "1g\\n"}\n',
        'agents:\n  a:\n    image: busybox\n    readiness_timeout: "5s\\n"\n',
        'extends: ["toolchain/rust\\n"]\nagents:\n  a: {image: busybox}\n',
    ],
)
def test_a_trailing_newline_never_validates(host: Host, body: str) -> None:
    assert host.issues(body)


def test_the_session_name_refuses_a_trailing_newline(host: Host) -> None:
    path = host.project / "aifo.yaml"
    path.write_text('version: 1\nsession: "demo\\n"\nagents:\n  a: {image: busybox}\n')
    with pytest.raises(SpecError):
        resolve(path, environ={"HOME": str(host.home)}, host=host.facts)


def _patterns(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return found + [p for v in node.values() for p in _patterns(v)]
    if isinstance(node, list):
        return [p for v in node for p in _patterns(v)]
    return []


@pytest.mark.parametrize("name", ["session.schema.json", "profile.schema.json"])
def test_every_schema_pattern_is_anchored_against_a_trailing_newline(name: str) -> None:
    """jsonschema searches with Python's `re`, whose `$` also matches before a final newline."""
    patterns = _patterns(json.loads((REPO / "schema" / name).read_text(encoding="utf-8")))
    assert patterns
    for pattern in patterns:
        assert not pattern.endswith("$") or pattern.endswith("(?!\\n)$"), pattern
        compiled = re.compile(pattern)
        assert not compiled.search("\n"), pattern


def test_the_command_lines_session_check_refuses_a_trailing_newline() -> None:
    from aifo.discovery import check_session
    from aifo.errors import UsageError

    with pytest.raises(UsageError):
        check_session("demo\n")


# -- 7. a spec path that is not a regular file ----------------------------------------------------


def _validate(path: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aifo", "validate", path],
        capture_output=True, text=True, timeout=60, cwd=cwd, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_a_spec_path_says_what_it_is(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    dangling = tmp_path / "dangling.yaml"
    dangling.symlink_to(tmp_path / "gone.yaml")
    folder = tmp_path / "folder"
    (folder / "aifo.yaml").mkdir(parents=True)
    sock = tmp_path / "s.yaml"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock))
    cases = {
        str(fifo): "it is a FIFO (named pipe), not a regular file",
        "/dev/zero": "it is a character device, not a regular file",
        str(loop): "it is a symbolic link loop",
        str(dangling): "it is a symbolic link to a missing file",
        str(folder): "it is a folder, not a regular file",
        str(sock): "it is a socket, not a regular file",
        str(tmp_path / "missing.yaml"): "no such spec file",
    }
    try:
        for path, said in cases.items():
            proc = _validate(path, tmp_path)
            assert proc.returncode == 2, (path, proc.stdout, proc.stderr)
            assert said in proc.stdout + proc.stderr, (path, proc.stdout, proc.stderr)
            assert "Traceback" not in proc.stderr
    finally:
        server.close()


# -- 6. a huge spec ------------------------------------------------------------------------------

_LIMITED = """
import resource, subprocess, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from aifo.cli import main
main(["validate", sys.argv[1]])
"""


@pytest.mark.parametrize("shape", ["flow", "block"])
def test_a_60_mib_spec_ends_in_a_clear_error_under_1_gb(tmp_path: Path, shape: str) -> None:
    spec = tmp_path / "huge.yaml"
    with spec.open("w", encoding="ascii") as out:
        out.write("[" if shape == "flow" else "")
        for _ in range(60):
            out.write("a," * 2**19 if shape == "flow" else "- a\n" * 2**18)
        out.write("a]\n" if shape == "flow" else "")
    assert spec.stat().st_size >= 60 * 2**20 - 4096
    proc = subprocess.run(
        [sys.executable, "-c", _LIMITED, str(spec)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "the document has more than 250000 values" in proc.stdout
    assert "huge.yaml:" in proc.stdout
    assert "internal error" not in proc.stdout + proc.stderr


@pytest.mark.docker
def test_plan_shows_credentials_and_program_env_in_its_summary(
    tmp_path: Path, session_name: str, busybox_image: str
) -> None:
    """`aifo plan` passes your home to the summary: the opted-in credential mount is listed."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (tmp_path / "aifo.yaml").write_text(
        f"version: 1\nsession: {session_name}\n"
        f"agents:\n  a:\n    image: {busybox_image}\n    pull: never\n    workspace: false\n"
        "    allow: [credentials]\n"
        "    mounts:\n      - {source: ~/.ssh, target: /s, read_only: true}\n"
        f"toolchains:\n  t:\n    image: {busybox_image}\n    pull: never\n    workspace: false\n"
        "    allow: [program-env]\n    pass_env: [LD_PRELOAD]\n"
    )
    env = {
        **os.environ,
        "HOME": str(home),
        "AIFO_STATE_DIR": str(tmp_path.parent / f"{tmp_path.name}-state"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "aifo", "plan", "-o", "json"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = {item["container"]: item for item in json.loads(proc.stdout)["security"]}
    assert summary["agent/a"]["credential_paths"] == [f"{home / '.ssh'} (read-only)"]
    assert summary["toolchain/t"]["program_env"] == ["LD_PRELOAD"]
    assert "allowed by allow: credentials" in proc.stderr  # the opt-in's warning
