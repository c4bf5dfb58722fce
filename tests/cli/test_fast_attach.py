"""Fast attach: what `aifo exec` needs of a spec is kept as plain data while the spec and its
inputs are unchanged (aifo.attach.cache); `aifo exec NAME -- CMD` then loads neither click nor
the spec stage (aifo.commands.fastexec)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aifo.attach import cache as attachcache
from aifo.commands.attaching import load_session
from tests.cli.helpers import aifo, idle_spec

SPEC = """\
version: 1
session: fast
extends: [./base.yaml]
agents:
  a:
    image: busybox:latest
    pull: never
    workspace: false
    env:
      MODE: ${FAST_MODE:-one}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIFO_STATE_DIR", str(tmp_path.parent / f"{tmp_path.name}-state"))
    monkeypatch.delenv("FAST_MODE", raising=False)
    (tmp_path / "aifo.yaml").write_text(SPEC)
    (tmp_path / "base.yaml").write_text("networks:\n  sandbox: {internal: true}\n")
    (tmp_path / ".env").write_text("UNUSED=1\n")
    return tmp_path


def _cached(project: Path) -> bool:
    return attachcache.entry(project / "aifo.yaml") is not None


def _entries() -> list[Path]:
    return sorted(Path(attachcache.folder()).glob("*.json"))


def test_an_entry_holds_until_an_input_changes(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = project / "aifo.yaml"
    assert not _cached(project)
    first = load_session(spec)
    found = attachcache.entry(spec)
    assert found is not None and found[0] == "fast"
    assert set(found[1]["containers"]) == {c.name for c in first.containers}
    monkeypatch.setenv("UNRELATED_VAR", "x")  # not named by the spec: still a hit
    assert _cached(project)
    monkeypatch.setenv("FAST_MODE", "two")  # named by ${FAST_MODE}: a miss
    assert not _cached(project)
    monkeypatch.delenv("FAST_MODE")
    assert _cached(project)
    (project / "base.yaml").write_text("networks:\n  sandbox: {internal: false}\n")
    assert not _cached(project)  # a profile changed
    load_session(spec)
    (project / ".env").write_text("UNUSED=2\n")
    assert not _cached(project)  # the .env changed
    load_session(spec)
    spec.write_text(SPEC.replace("MODE", "MODE2"))
    assert not _cached(project)  # the spec changed
    assert attachcache.entry(spec, session="fast-2") is None  # another --session: its own key


def test_an_edited_spec_replaces_its_entry_and_entries_are_bounded(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = project / "aifo.yaml"
    for i in range(5):  # issue 23: every edit used to leave a pickle behind
        spec.write_text(SPEC.replace("one", f"v{i}"))
        load_session(spec)
    assert len(_entries()) == 1 and _cached(project)
    monkeypatch.setattr(attachcache, "MAX_ENTRIES", 3)
    for i in range(6):
        (project / f"s{i}.yaml").write_text(SPEC)
        load_session(project / f"s{i}.yaml")
    assert len(_entries()) == 3


def test_no_secret_value_is_cached_and_nothing_but_json(project: Path) -> None:
    spec = project / "aifo.yaml"
    spec.write_text(SPEC + "      TOKEN: {value: literal-secret-42, secret: true}\n")
    load_session(spec)
    assert not _cached(project)
    spec.write_text(SPEC)
    load_session(spec)
    files = [p for p in Path(attachcache.folder()).iterdir() if p.name != ".key"]
    assert files and all(p.suffix == ".json" for p in files)
    assert all(b"literal-secret-42" not in p.read_bytes() for p in files)
    for p in files:
        json.loads(p.read_bytes())  # plain data, nothing else


def test_untrusted_entries_are_ignored_and_destroy_forgets(project: Path) -> None:
    load_session(project / "aifo.yaml")
    [entry] = _entries()
    entry.chmod(0o666)
    assert not _cached(project)
    entry.chmod(0o600)
    assert _cached(project)
    targets = Path(attachcache.folder()) / "targets.fast.json"
    targets.write_text("{}")
    attachcache.forget("fast")
    assert _entries() == []  # targets.fast.json included: the containers `aifo exec` remembered


def _remember(project: Path, name: str, ident: str, config_hash: str) -> None:
    """As aifo.attach.lookup.locate + attachcache.remember leave it after an exec."""
    targets = Path(attachcache.folder()) / "targets.fast.json"
    known = {f"aifo-fast-{name}": {"id": ident, "hash": config_hash}}
    targets.write_text(json.dumps(known))
    targets.chmod(0o600)


def test_an_exec_ticket_only_for_a_plain_located_container(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = project / "aifo.yaml"
    spec.write_text(
        SPEC + "  b:\n    image: busybox:latest\n    pull: never\n    workspace: false\n"
        "    env:\n      TOKEN: {from_host: FAST_TOKEN, secret: true}\n"
    )
    monkeypatch.setenv("FAST_TOKEN", "t0ken")
    compiled = load_session(spec)
    hashes = {c.name: c.config_hash for c in compiled.containers}
    assert attachcache.exec_ticket(str(spec), None, "a") is None  # never located: no id yet
    _remember(project, "a", "c0ffee", hashes["a"])
    ticket = attachcache.exec_ticket(str(spec), None, "a")
    assert ticket is not None and (ticket.ref, ticket.docker_name) == ("c0ffee", "aifo-fast-a")
    assert not ticket.stale and ticket.container_id == "agent/a"
    by_id = attachcache.exec_ticket(str(spec), None, "agent/a")  # the graph id names it too
    assert by_id is not None and by_id.ref == "c0ffee"
    _remember(project, "a", "c0ffee", "another-hash")
    stale = attachcache.exec_ticket(str(spec), None, "a")
    assert stale is not None and stale.stale  # applied from another spec: the caller warns
    _remember(project, "b", "beef", hashes["b"])
    assert attachcache.exec_ticket(str(spec), None, "b") is None  # a secret to read: the long way
    assert attachcache.exec_ticket(str(spec), None, "nope") is None
    monkeypatch.setenv("FAST_MODE", "two")  # an input changed: no ticket either
    _remember(project, "a", "c0ffee", hashes["a"])
    assert attachcache.exec_ticket(str(spec), None, "a") is None


def test_the_quick_exec_adapter_is_for_docker_on_a_unix_socket_only() -> None:
    from aifo.engine.choose import quick_exec

    unix = quick_exec({"DOCKER_HOST": "unix:///run/x.sock"})
    assert unix is not None and unix.wire.path == "/run/x.sock"
    assert quick_exec({"DOCKER_HOST": "tcp://127.0.0.1:2375"}) is None
    assert quick_exec({"DOCKER_HOST": "unix:///run/x.sock", "AIFO_ENGINE": "podman"}) is None


PROBE = """
import sys
sys.argv = ["aifo", "exec", "hello", "--", "sh", "-c", "exit 7"]
from aifo.entry import main
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = [m for m in ("click", "yaml", "jsonschema", "rich", "networkx", "aifo.sessionspec.profiles",
                    "aifo.compile", "aifo.state.secrets", "aifo.model", "pickle",
                    "dataclasses", "typing", "pathlib") if m in sys.modules]
print("CODE=%s HEAVY=%s" % (code, ",".join(heavy)))
"""


@pytest.mark.docker
@pytest.mark.slow
def test_exec_by_name_takes_the_fast_path(
    session_name: str, state_dir: Path, tmp_path: Path, busybox_image: str
) -> None:
    (tmp_path / "aifo.yaml").write_text(idle_spec(session_name, busybox_image))
    assert aifo("apply", "--yes", cwd=tmp_path).returncode == 0
    env = {**os.environ, "AIFO_STATE_DIR": str(state_dir)}

    def probe() -> str:
        done = subprocess.run(
            [sys.executable, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]

    # the first exec after the apply: nothing heavy (apply left the index and the container)
    assert probe() == "CODE=7 HEAVY="
    assert probe() == "CODE=7 HEAVY="  # and again
    # The container is recreated under its name (a new id), behind aifo's back: the remembered
    # id is refused, and the exec goes to the new container.
    docker_name = f"aifo-{session_name}-hello"
    labels = json.loads(
        subprocess.run(
            ["docker", "inspect", "-f", "{{json .Config.Labels}}", docker_name],
            capture_output=True, text=True,
        ).stdout
    )  # fmt: skip
    assert subprocess.run(["docker", "rm", "-f", docker_name], capture_output=True).returncode == 0
    flags = [f"--label={k}={v}" for k, v in labels.items()]  # the same labels: not stale
    new_id = subprocess.run(
        ["docker", "run", "-d", "--name", docker_name, *flags, busybox_image, "sleep", "600"],
        capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    assert new_id
    again = aifo("exec", "hello", "--", "sh", "-c", "hostname; exit 5", cwd=tmp_path)
    assert again.returncode == 5 and new_id.startswith(again.stdout.strip()), again.stderr
    assert probe() == "CODE=7 HEAVY="  # and the new id is remembered: light again
    assert subprocess.run(["docker", "rm", "-f", docker_name], capture_output=True).returncode == 0
    assert aifo("apply", "--yes", cwd=tmp_path).returncode == 0
    # The spec changes and is not applied: every exec warns, the quick way included.
    spec = tmp_path / "aifo.yaml"
    spec.write_text(
        spec.read_text().replace("workspace: false", "workspace: false\n    env: {X: '1'}")
    )
    for _ in range(2):  # the first compiles again; the second finds it in the cache
        stale = aifo("exec", "hello", "--", "true", cwd=tmp_path)
        assert stale.returncode == 0 and "applied from a different spec" in stale.stderr
    stopped = subprocess.run(["docker", "stop", "-t", "0", f"aifo-{session_name}-hello"])
    assert stopped.returncode == 0
    slow = aifo("exec", "hello", "--", "true", cwd=tmp_path)  # not running: the full message
    assert slow.returncode == 1 and "not running" in slow.stderr
    assert "aifo apply" in slow.stderr


def _container_id(docker_name: str) -> str:
    done = subprocess.run(
        ["docker", "inspect", "-f", "{{.Id}}", docker_name], capture_output=True, text=True
    )
    return done.stdout.strip()


@pytest.mark.docker
@pytest.mark.slow
def test_apply_leaves_what_the_first_exec_needs_and_an_edit_invalidates_it(
    session_name: str, state_dir: Path, tmp_path: Path, busybox_image: str
) -> None:
    """Issue 26: `aifo apply` writes the spec's attach index and the containers it verified, so
    the first `aifo exec` takes the quick way; an edited spec is a miss until it is applied,
    and the apply that replaces the container remembers the new one."""
    spec = tmp_path / "aifo.yaml"
    spec.write_text(idle_spec(session_name, busybox_image))
    assert aifo("apply", "--yes", cwd=tmp_path).returncode == 0
    docker_name = f"aifo-{session_name}-hello"
    ticket = attachcache.exec_ticket(str(spec), None, "hello")
    assert ticket is not None and not ticket.stale
    assert ticket.ref == _container_id(docker_name)
    edited = idle_spec(session_name, busybox_image).replace(
        "workspace: false", "workspace: false\n    env: {X: '1'}"
    )
    spec.write_text(edited)
    assert attachcache.exec_ticket(str(spec), None, "hello") is None  # not what was indexed
    done = aifo("apply", "--yes", cwd=tmp_path)  # replaces the container
    assert done.returncode == 0, done.stderr
    again = attachcache.exec_ticket(str(spec), None, "hello")
    assert again is not None and not again.stale
    assert again.ref == _container_id(docker_name) != ticket.ref
    # an apply with `--session`: its own index, and the first index still answers for its key
    assert attachcache.exec_ticket(str(spec), "other", "hello") is None


def test_remember_applied_records_running_containers_and_forgets_stopped_ones(
    project: Path,
) -> None:
    from aifo.model import LABEL_HASH
    from aifo.model.observed import ObservedContainer

    spec = project / "aifo.yaml"
    compiled = load_session(spec)
    (a,) = compiled.containers
    labels = {LABEL_HASH: a.config_hash or ""}
    temp = "aifo-fast-a-replacing"  # a replacement is verified under its temporary name
    running = ObservedContainer("c0ffee", temp, labels, state="running")
    attachcache.remember_applied(compiled, {a.id: running})
    ticket = attachcache.exec_ticket(str(spec), None, "a")
    assert ticket is not None and (ticket.ref, ticket.docker_name) == ("c0ffee", "aifo-fast-a")
    exited = ObservedContainer("c0ffee", a.docker_name, labels, state="exited")
    attachcache.remember_applied(compiled, {a.id: exited})
    assert attachcache.exec_ticket(str(spec), None, "a") is None  # the next exec looks it up


def test_layered_specs_leave_the_fast_path_to_the_command_line() -> None:
    from aifo.commands.fastexec import _globals

    assert _globals(["-f", "a.yaml", "exec", "x"]) == ("a.yaml", None, 2)
    assert _globals(["-f", "a.yaml", "-f", "a.yaml", "exec", "x"]) == ("a.yaml", None, 4)
    # two specs are merged by the full command line; the fast path would use only the last
    assert _globals(["-f", "a.yaml", "-f", "b.yaml", "exec", "x"]) is None
    assert _globals(["--file=a.yaml", "-f", "b.yaml", "exec", "x"]) is None
