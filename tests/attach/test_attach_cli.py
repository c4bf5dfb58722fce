"""`aifo run`, `exec`, `shell`, `logs` end to end through aifo.cli.main, on a fake engine."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from aifo.attach import lookup as attach
from aifo.cli import main
from aifo.commands import attaching
from aifo.model import LABEL_HASH, LABEL_SESSION, Container, EnvVar, Session
from aifo.model.observed import ObservedContainer

SESSION = Session(
    name="demo",
    containers=(
        Container(
            name="codex",
            role="agent",
            docker_name="aifo-demo-codex",
            image="x",
            run=("codex",),
            env=(EnvVar(key="OPENAI_API_KEY", secret=True, from_host="OPENAI_API_KEY"),),
            config_hash="h1",
        ),
        Container(
            name="rust", role="toolchain", docker_name="aifo-demo-rust", image="y", config_hash="h2"
        ),
    ),
)


@dataclass
class Exec:
    ref: str
    argv: list[str]
    user: str | None
    workdir: str | None
    env: dict[str, str]
    tty: bool
    interactive: bool


@dataclass
class FakeEngine:
    states: dict[str, str] = field(default_factory=dict)  # docker name -> state
    exit_code: int = 0
    execs: list[Exec] = field(default_factory=list)
    logs_calls: list[tuple[list[str], bool, int | None]] = field(default_factory=list)
    opened: list[tuple[str, tuple[str, ...], str | None]] = field(default_factory=list)

    def inspect_containers(self, refs: Sequence[str]) -> list[ObservedContainer]:
        return [
            ObservedContainer(
                id=f"id-{r}",
                name=r,
                labels={LABEL_SESSION: "demo", LABEL_HASH: "h1" if "codex" in r else "h2"},
                state=self.states[r],
            )
            for r in refs
            if r in self.states
        ]

    def exec(
        self,
        ref: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        tty: bool = False,
        interactive: bool = False,
    ) -> int:
        self.execs.append(Exec(ref, list(argv), user, workdir, dict(env or {}), tty, interactive))
        return self.exit_code

    def exec_start(
        self,
        ref: str,
        argv: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
        tty: bool = False,
        interactive: bool = False,
        pipes: bool = False,
        own_group: bool = False,
    ) -> FakeProcess:
        env = {
            k: v for k, v in (env or {}).items() if k != "AIFO_EXEC_ID"
        }  # aifo.attach.signals' marker
        return FakeProcess(self.exec(ref, argv, user=user, workdir=workdir, env=env, tty=tty,
                                     interactive=interactive))  # fmt: skip

    def logs(
        self,
        refs: Sequence[str],
        *,
        write: Callable[[bytes], None],
        follow: bool = False,
        tail: int | None = None,
    ) -> int:
        self.logs_calls.append((list(refs), follow, tail))
        return 0


@dataclass
class FakeProcess:
    returncode: int

    def wait(self) -> int:
        return self.returncode

    def poll(self) -> int:
        return self.returncode


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine(states={"aifo-demo-codex": "running", "aifo-demo-rust": "running"})

    def open_session(
        spec_file: str, profiles: Sequence[str], *, session: str | None = None
    ) -> tuple[FakeEngine, Session]:
        fake.opened.append((spec_file, tuple(profiles), session))
        return fake, SESSION

    monkeypatch.setattr(attaching, "open_session", open_session)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    return fake


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as done:
        main(argv)
    code = done.value.code
    return code if isinstance(code, int) else 0


def test_exec_propagates_the_exit_code_and_passes_secrets_as_env(engine: FakeEngine) -> None:
    engine.exit_code = 7
    assert _run(["exec", "aifo.yaml", "codex", "--", "sh", "-c", "exit 7"]) == 7
    [call] = engine.execs
    assert call.ref == "id-aifo-demo-codex"
    assert call.argv == ["sh", "-c", "exit 7"]
    assert call.env == {"OPENAI_API_KEY": "sk-secret-value"}
    assert "sk-secret-value" not in " ".join(call.argv)
    assert call.tty is False  # pytest's stdio is not a terminal


def test_exec_zero_exit(engine: FakeEngine) -> None:
    assert _run(["exec", "aifo.yaml", "rust", "true"]) == 0


def test_exec_options_after_name(engine: FakeEngine) -> None:
    code = _run(
        ["exec", "f.yaml", "rust", "--user", "1234:1234", "-w", "/tmp", "-e", "A=1", "ls", "-u"]
    )
    assert code == 0
    [call] = engine.execs
    assert (call.user, call.workdir, call.env, call.argv) == (
        "1234:1234",
        "/tmp",
        {"A": "1"},
        ["ls", "-u"],
    )


def test_exec_when_not_applied_names_the_apply_command(
    engine: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    engine.states.clear()
    assert _run(["exec", "my/aifo.yaml", "rust", "true"]) == 1
    err = capsys.readouterr().err
    assert "toolchain/rust of session 'demo' does not exist" in err
    assert "aifo apply my/aifo.yaml" in err
    assert engine.execs == []


def test_exec_when_stopped(engine: FakeEngine, capsys: pytest.CaptureFixture[str]) -> None:
    engine.states["aifo-demo-rust"] = "exited"
    assert _run(["exec", "aifo.yaml", "rust", "true"]) == 1
    assert "is exited, not running" in capsys.readouterr().err


def test_exec_unknown_container_is_usage(
    engine: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["exec", "aifo.yaml", "nope", "true"]) == 2
    assert "containers: codex, rust" in capsys.readouterr().err


def test_exec_without_command_is_usage(engine: FakeEngine) -> None:
    assert _run(["exec", "aifo.yaml", "rust"]) == 2
    assert _run(["exec", "aifo.yaml", "rust", "--bogus", "x"]) == 2


def test_run_execs_the_agents_run_command_with_args(engine: FakeEngine) -> None:
    assert _run(["run", "aifo.yaml", "codex", "--", "--model", "o3"]) == 0
    [call] = engine.execs
    assert call.argv == ["codex", "--model", "o3"]
    assert call.env == {"OPENAI_API_KEY": "sk-secret-value"}
    assert call.interactive is True


def test_run_without_run_command(engine: FakeEngine, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["run", "aifo.yaml", "rust"]) == 2
    assert "aifo exec aifo.yaml rust -- CMD" in capsys.readouterr().err


def test_run_passes_the_agents_exit_code(engine: FakeEngine) -> None:
    engine.exit_code = 42
    assert _run(["run", "aifo.yaml", "codex"]) == 42


def test_shell(engine: FakeEngine) -> None:
    assert _run(["shell", "aifo.yaml", "rust", "--user", "0"]) == 0
    [call] = engine.execs
    assert call.argv == list(attach.SHELL_ARGV)
    assert call.user == "0"


def test_logs_of_one_or_all(engine: FakeEngine) -> None:
    engine.states["aifo-demo-rust"] = "exited"  # logs of a stopped container are fine
    assert _run(["logs", "aifo.yaml", "rust", "--tail", "5"]) == 0
    assert _run(["logs", "aifo.yaml", "-f"]) == 0
    assert engine.logs_calls == [
        (["aifo-demo-rust"], False, 5),
        (["aifo-demo-codex", "aifo-demo-rust"], True, None),
    ]


def test_logs_when_nothing_applied(engine: FakeEngine, capsys: pytest.CaptureFixture[str]) -> None:
    engine.states.clear()
    assert _run(["logs", "aifo.yaml"]) == 1
    assert "aifo apply aifo.yaml" in capsys.readouterr().err
    assert _run(["logs", "aifo.yaml", "codex"]) == 1


def test_logs_rejects_negative_tail(engine: FakeEngine) -> None:
    assert _run(["logs", "aifo.yaml", "--tail", "-1"]) == 2


# --- which spec: FILE first (the old form), -f, a folder, or the nearest aifo.yaml -------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with aifo.yaml at its root; the test runs in a subfolder of it."""
    (tmp_path / "aifo.yaml").write_text("version: 1\nsession: demo\n", encoding="utf-8")
    inner = tmp_path / "src" / "deep"
    inner.mkdir(parents=True)
    monkeypatch.chdir(inner)
    return tmp_path


def test_exec_finds_the_spec_in_a_parent_folder(engine: FakeEngine, project: Path) -> None:
    assert _run(["exec", "codex", "--", "true"]) == 0
    [(spec, _profiles, session)] = engine.opened
    assert Path(spec).resolve() == project / "aifo.yaml"
    assert session is None
    assert engine.execs[0].argv == ["true"]


def test_every_attach_command_takes_the_name_alone(engine: FakeEngine, project: Path) -> None:
    assert _run(["run", "codex", "--", "--model", "o3"]) == 0
    assert _run(["shell", "rust"]) == 0
    assert _run(["logs", "rust", "-f"]) == 0  # logs -f still follows
    assert _run(["logs"]) == 0
    assert engine.logs_calls == [
        (["aifo-demo-rust"], True, None),
        (["aifo-demo-codex", "aifo-demo-rust"], False, None),
    ]
    assert {Path(s).resolve() for s, _p, _n in engine.opened} == {project / "aifo.yaml"}


def test_global_file_option_and_session_override(engine: FakeEngine, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "aifo.yaml").write_text("version: 1\nsession: demo\n", encoding="utf-8")
    assert _run(["-f", str(other), "--session", "demo-2", "exec", "codex", "-u", "0", "id"]) == 0
    assert _run(["-f", str(other / "aifo.yaml"), "logs", "--session", "demo-2", "codex"]) == 0
    assert [(Path(s), n) for s, _p, n in engine.opened] == [(other / "aifo.yaml", "demo-2")] * 2
    assert engine.execs[0].user == "0"


def test_a_folder_argument_means_its_spec(engine: FakeEngine, project: Path) -> None:
    assert _run(["exec", str(project), "rust", "true"]) == 0
    assert Path(engine.opened[0][0]) == project / "aifo.yaml"


def test_no_spec_anywhere_is_a_usage_error_with_a_hint(
    engine: FakeEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _run(["exec", "codex", "--", "true"]) == 2
    err = capsys.readouterr().err
    assert "no aifo.yaml in" in err and "aifo -f FILE" in err and "aifo init" in err
    assert engine.execs == []


def test_bad_session_override_is_a_usage_error(
    engine: FakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["--session", "Not_Valid", "exec", "aifo.yaml", "codex", "true"]) == 2
    assert "not a session name" in capsys.readouterr().err
    assert _run(["--session", "a", "exec", "--session", "b", "aifo.yaml", "codex", "true"]) == 2
    assert _run(["-f", "a.yaml", "exec", "b.yaml", "codex", "true"]) == 2  # b.yaml is NAME: no
    assert engine.execs == []
