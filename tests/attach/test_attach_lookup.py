"""aifo.attach.lookup: finding a session's container, refusing when not applied, exec env/argv."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from aifo.attach import execargs
from aifo.attach import lookup as attach
from aifo.errors import NotApplied, UsageError
from aifo.model import LABEL_HASH, LABEL_SESSION, Container, EnvVar, Session
from aifo.model.observed import ObservedContainer
from aifo.state.secrets import secret_env


def _container(name: str, role: str = "agent", **kw: object) -> Container:
    base: dict[str, object] = {
        "name": name,
        "role": role,
        "docker_name": f"aifo-demo-{name}",
        "image": "busybox:latest",
        "config_hash": f"hash-{name}",
    }
    base.update(kw)
    return Container(**base)  # type: ignore[arg-type]


SESSION = Session(
    name="demo",
    containers=(
        _container("codex", run=("codex", "--full-auto")),
        _container("rust", role="toolchain"),
    ),
)


def _observed(
    name: str, *, state: str = "running", session: str = "demo", h: str = ""
) -> ObservedContainer:
    labels = {LABEL_SESSION: session, LABEL_HASH: h or f"hash-{name}"}
    return ObservedContainer(id=f"id-{name}", name=f"aifo-demo-{name}", labels=labels, state=state)


class FakeEngine:
    """The engine contract's batched inspect: refs that don't exist are left out."""

    def __init__(self, *found: ObservedContainer) -> None:
        self.found = {o.name: o for o in found}
        self.calls: list[tuple[str, ...]] = []

    def inspect_containers(self, refs: Sequence[str]) -> list[ObservedContainer]:
        self.calls.append(tuple(refs))
        return [self.found[r] for r in refs if r in self.found]


def test_locate_running_container_by_name_and_by_id() -> None:
    engine = FakeEngine(_observed("codex"))
    target = attach.locate(engine, SESSION, "codex", "aifo.yaml")
    assert target.container.name == "codex"
    assert target.ref == "id-codex"
    assert not target.stale
    assert attach.locate(engine, SESSION, "agent/codex", "aifo.yaml").container.name == "codex"


def test_unknown_name_is_a_usage_error_listing_the_names() -> None:
    with pytest.raises(UsageError) as err:
        attach.locate(FakeEngine(), SESSION, "nope", "aifo.yaml")
    assert "no container named 'nope'" in str(err.value)
    assert "codex, rust" in str(err.value)
    assert err.value.exit_code == 2


def test_missing_container_names_the_apply_command() -> None:
    with pytest.raises(NotApplied) as err:
        attach.locate(FakeEngine(), SESSION, "codex", "path/to/aifo.yaml")
    message = str(err.value)
    assert "agent/codex of session 'demo' does not exist" in message
    assert "aifo apply path/to/aifo.yaml" in message
    assert err.value.exit_code == 1


@pytest.mark.parametrize("state", ["created", "exited", "paused", "restarting", "dead"])
def test_container_that_is_not_running_is_refused(state: str) -> None:
    engine = FakeEngine(_observed("codex", state=state))
    with pytest.raises(NotApplied) as err:
        attach.locate(engine, SESSION, "codex", "aifo.yaml")
    assert f"is {state}, not running" in str(err.value)
    assert "aifo apply aifo.yaml" in str(err.value)


def test_stopped_container_is_fine_when_running_is_not_required() -> None:
    engine = FakeEngine(_observed("codex", state="exited"))
    assert attach.locate(engine, SESSION, "codex", "f", running=False).observed.state == "exited"


def test_a_foreign_container_with_our_name_is_never_used() -> None:
    engine = FakeEngine(_observed("codex", session="someone-else"))
    with pytest.raises(NotApplied) as err:
        attach.locate(engine, SESSION, "codex", "aifo.yaml")
    assert "does not belong to session 'demo'" in str(err.value)


def test_stale_container_is_flagged() -> None:
    engine = FakeEngine(_observed("codex", h="old"))
    target = attach.locate(engine, SESSION, "codex", "aifo.yaml")
    assert target.stale
    warning = attach.stale_warning(target, "aifo.yaml")
    assert warning is not None and "aifo apply aifo.yaml" in warning
    fresh = attach.locate(FakeEngine(_observed("codex")), SESSION, "codex", "aifo.yaml")
    assert attach.stale_warning(fresh, "aifo.yaml") is None


def test_locate_all_skips_missing_and_foreign() -> None:
    engine = FakeEngine(_observed("rust", state="exited"))
    targets = attach.locate_all(engine, SESSION, "aifo.yaml")
    assert [t.container.id for t in targets] == ["toolchain/rust"]
    # The batched call failed on the missing name; each name was then asked alone.
    assert engine.calls[0] == ("aifo-demo-codex", "aifo-demo-rust")
    foreign = FakeEngine(_observed("rust", session="x"))
    with pytest.raises(NotApplied) as err:
        attach.locate_all(foreign, SESSION, "aifo.yaml")
    assert "has no containers in Docker" in str(err.value)
    assert "aifo apply aifo.yaml" in str(err.value)


def test_locate_all_with_everything_present_is_one_call() -> None:
    engine = FakeEngine(_observed("codex"), _observed("rust"))
    assert len(attach.locate_all(engine, SESSION, "f")) == 2
    assert len(engine.calls) == 1


# -- env and argv ---------------------------------------------------------------------------

SECRETS = _container(
    "codex",
    env=(
        EnvVar(key="A_KEY", secret=True, from_host="A_KEY"),
        EnvVar(key="B_KEY", secret=True, from_host="B_KEY"),
        EnvVar(key="PLAIN", value="x"),
    ),
)


def test_secret_env_reads_each_secret_and_skips_unset_ones() -> None:
    values = {"A_KEY": "sk-a"}
    env = secret_env(SECRETS, lambda var: values.get(var.key))
    assert env == {"A_KEY": "sk-a"}  # plain vars are in the container already


def test_explicit_env_wins_over_secrets() -> None:
    env = attach.exec_env(SECRETS, lambda var: "secret", {"A_KEY": "override", "X": "1"})
    assert env == {"A_KEY": "override", "B_KEY": "secret", "X": "1"}


def test_parse_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_HERE", "v")
    assert execargs.parse_env(["A=1", "B=x=y", "C=", "FROM_HERE"]) == {
        "A": "1",
        "B": "x=y",
        "C": "",
        "FROM_HERE": "v",
    }


@pytest.mark.parametrize("bad", ["=1", "A B=1", "NOT_SET_ANYWHERE_123"])
def test_parse_env_rejects(bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE_123", raising=False)
    with pytest.raises(UsageError):
        execargs.parse_env([bad])


def test_run_argv_appends_user_args() -> None:
    codex = SESSION.containers[0]
    assert attach.run_argv(codex, ["-m", "o3"], "f") == ("codex", "--full-auto", "-m", "o3")


def test_run_argv_without_run_points_at_exec() -> None:
    with pytest.raises(UsageError) as err:
        attach.run_argv(SESSION.containers[1], [], "aifo.yaml")
    assert "declares no `run:` command" in str(err.value)
    assert "aifo exec aifo.yaml rust -- CMD" in str(err.value)


class _Stream:
    def __init__(self, tty: bool, closed: bool = False) -> None:
        self._tty, self.closed = tty, closed

    def isatty(self) -> bool:
        return self._tty


@pytest.mark.parametrize(
    ("stdin", "stdout", "tty", "interactive"),
    [
        (_Stream(True), _Stream(True), True, True),
        (_Stream(True), _Stream(False), False, True),  # piped output: no TTY, or it mangles \n
        (_Stream(False), _Stream(True), False, True),  # piped input still reaches the process
        (_Stream(False, closed=True), _Stream(False), False, False),
    ],
)
def test_terminal(stdin: _Stream, stdout: _Stream, tty: bool, interactive: bool) -> None:
    term = execargs.terminal(stdin, stdout)
    assert (term.tty, term.interactive) == (tty, interactive)


# -- exec's own option parsing --------------------------------------------------------------


@pytest.mark.parametrize(
    ("rest", "user", "workdir", "env", "cmd"),
    [
        (["ls", "-u"], None, None, (), ("ls", "-u")),  # CMD's -u is CMD's
        (["--", "-weird"], None, None, (), ("-weird",)),
        (["-u", "0", "id"], "0", None, (), ("id",)),
        (
            ["--user=1:1", "-w", "/x", "-e", "A=1", "--env", "B", "--", "id", "-u"],
            "1:1",
            "/x",
            ("A=1", "B"),
            ("id", "-u"),
        ),
        (["--workdir=/w", "pwd"], None, "/w", (), ("pwd",)),
    ],
)
def test_split_exec_args(
    rest: list[str],
    user: str | None,
    workdir: str | None,
    env: tuple[str, ...],
    cmd: tuple[str, ...],
) -> None:
    parsed = execargs.split_exec_args(rest)
    assert (parsed.user, parsed.workdir, parsed.env, parsed.cmd) == (user, workdir, env, cmd)


@pytest.mark.parametrize(
    ("rest", "message"),
    [
        ([], "missing the command"),
        (["--"], "missing the command"),
        (["-u", "0"], "missing the command"),
        (["--user"], "needs a value"),
        (["--tty", "sh"], "unknown option '--tty'"),
    ],
)
def test_split_exec_args_errors(rest: list[str], message: str) -> None:
    with pytest.raises(UsageError) as err:
        execargs.split_exec_args(rest)
    assert message in str(err.value)


def test_strip_separator() -> None:
    assert execargs.strip_separator(["--", "--model", "x"]) == ("--model", "x")
    assert execargs.strip_separator(["--model", "--"]) == ("--model", "--")
    assert execargs.strip_separator([]) == ()


# -- secret values at exec time -------------------------------------------------------------


def test_exec_reads_secrets_with_compiles_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aifo.errors import SecretMissing

    token = tmp_path / "token"
    token.write_text("tok-123\n", encoding="utf-8")
    monkeypatch.setenv("HOST_KEY", "v1")
    monkeypatch.delenv("UNSET_KEY_XYZ", raising=False)
    from aifo.commands.attaching import default_secret_reader

    read = default_secret_reader()
    assert read(EnvVar(key="K", secret=True, from_host="HOST_KEY")) == "v1"
    assert read(EnvVar(key="K", secret=True, from_file=str(token))) == "tok-123"
    optional = EnvVar(key="K", secret=True, from_host="UNSET_KEY_XYZ", required=False)
    assert read(optional) is None
    with pytest.raises(SecretMissing) as err:
        read(EnvVar(key="TOKEN", secret=True, from_file=f"{tmp_path}/nope"))
    assert "TOKEN" in str(err.value) and "tok-123" not in str(err.value)
